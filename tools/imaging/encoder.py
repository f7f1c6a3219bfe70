"""A MedSigLIP-compatible image/text encoder (any SigLIP checkpoint) and zero-shot scoring.

`ImageEncoder.load(name_or_dir)` opens a checkpoint through transformers' AutoModel and
AutoProcessor, from a local directory or the local Hugging Face cache; nothing is downloaded.
Text is tokenized with padding="max_length", max_length=64, as MedSigLIP was trained.
Probabilities are computed exactly as SiglipModel computes its logits:
sigmoid(exp(logit_scale) * cosine(image, text) + logit_bias), one independent score per label.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

MEDSIGLIP = "google/medsiglip-448"
TEXT_MAX_LENGTH = 64
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
_TEXT_INPUTS = ("input_ids", "attention_mask", "position_ids")

Embeddings = NDArray[np.float32]


class ImageModelError(RuntimeError):
    """An image model that cannot be opened or is not SigLIP-like; the message says why."""


def _missing_model_message(name: str) -> str:
    if name == MEDSIGLIP:
        return (
            f"{MEDSIGLIP} is not in the local Hugging Face cache. It is a gated model: accept "
            "the Health AI Developer Foundations terms on https://huggingface.co/"
            f"{MEDSIGLIP} while logged in, download it (`hf download {MEDSIGLIP}`), "
            "then run again; or give a local checkpoint directory instead (--image-model DIR for "
            "`clinsim run`, --model DIR for `clinsim image`)"
        )
    if "/" in name and not name.startswith((".", "/", "~")) and name.count("/") == 1:
        return (
            f"image model {name!r} is neither a local directory nor in the local Hugging Face "
            "cache (nothing is downloaded at run time: fetch it first, or pass a directory)"
        )
    return f"image model directory {name!r} does not exist"


def model_fingerprint(directory: Path) -> str:
    """A short digest of a checkpoint directory (config and weight files' names, sizes and
    modification times): part of the embedding cache key, so new weights miss the cache."""
    digest = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if path.name == "config.json" or path.suffix in WEIGHT_SUFFIXES:
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _open_checkpoint(name: str) -> tuple[Any, Any, Path | None]:
    from transformers import AutoModel, AutoProcessor

    directory = Path(name).expanduser()
    local = directory.is_dir()
    source = str(directory) if local else name
    try:
        model = AutoModel.from_pretrained(source, local_files_only=True)
        processor = AutoProcessor.from_pretrained(source, local_files_only=True)  # type: ignore[no-untyped-call]
    except OSError as exc:
        if local:
            raise ImageModelError(f"cannot open image model in {directory}: {exc}") from exc
        raise ImageModelError(_missing_model_message(name)) from exc
    except ValueError as exc:
        raise ImageModelError(f"cannot open image model {name!r}: {exc}") from exc
    return model, processor, directory.resolve() if local else None


def _check_siglip(model: Any, name: str) -> None:
    needed = ("get_image_features", "get_text_features", "logit_scale", "logit_bias")
    missing = [attr for attr in needed if not hasattr(model, attr)]
    if missing:
        raise ImageModelError(
            f"image model {name!r} ({type(model).__name__}) is not a SigLIP model: "
            f"it has no {', '.join(missing)}"
        )


def _pooled(output: Any) -> Any:
    """transformers 5 returns an output object; older versions returned the tensor."""
    return getattr(output, "pooler_output", output)


@dataclass
class ImageEncoder:
    """An opened SigLIP checkpoint. `model_id` names the weights in cache keys."""

    model_id: str
    model: Any
    processor: Any
    batch_size: int = 8
    text_cache: dict[str, Embeddings] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, name: str, device: str | None = None) -> ImageEncoder:
        """Open a checkpoint directory or a model id from the local Hugging Face cache."""
        import torch

        model, processor, directory = _open_checkpoint(name)
        _check_siglip(model, name)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device)
        model.eval()
        model_id = f"{directory}@{model_fingerprint(directory)}" if directory else name
        return cls(model_id=model_id, model=model, processor=processor)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().float().cpu().reshape(-1)[0])

    @property
    def logit_bias(self) -> float:
        return float(self.model.logit_bias.detach().float().cpu().reshape(-1)[0])

    def encode_images(self, images: list[Image.Image]) -> Embeddings:
        """L2-normalised image embeddings, one row per image, in batches of `batch_size`."""
        rows = [
            self._encode_image_batch(images[i : i + self.batch_size])
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def _encode_image_batch(self, images: list[Image.Image]) -> Embeddings:
        import torch

        inputs = self.processor(images=images, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, dtype=next(self.model.parameters()).dtype)
        with self._lock, torch.inference_mode():
            features = _pooled(self.model.get_image_features(pixel_values=pixels))
        return _normalise(features)

    def encode_texts(self, texts: list[str]) -> Embeddings:
        """L2-normalised text embeddings (memoised per text)."""
        import torch

        todo = list(dict.fromkeys(t for t in texts if t not in self.text_cache))
        if todo:
            inputs = self.processor(
                text=todo, padding="max_length", max_length=TEXT_MAX_LENGTH,
                truncation=True, return_tensors="pt",
            )  # fmt: skip
            # pass what the processor returns, as SiglipModel(**processor(...)) would
            tensors = {k: v.to(self.device) for k, v in inputs.items() if k in _TEXT_INPUTS}
            with self._lock, torch.inference_mode():
                output = self.model.get_text_features(**tensors)
            for text, row in zip(todo, _normalise(_pooled(output)), strict=True):
                self.text_cache[text] = row
        return np.stack([self.text_cache[t] for t in texts]).astype(np.float32)

    def probabilities(
        self, image_embeddings: Embeddings, text_embeddings: Embeddings
    ) -> Embeddings:
        """sigmoid(exp(logit_scale) * cos + logit_bias): rows images, columns texts."""
        logits = np.exp(self.logit_scale) * (image_embeddings @ text_embeddings.T)
        return sigmoid(logits + self.logit_bias)


def sigmoid(x: NDArray[Any]) -> Embeddings:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))), dtype=np.float32)


def _normalise(features: Any) -> Embeddings:
    array = np.asarray(features.detach().float().cpu().numpy(), dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return np.asarray(array / np.maximum(norms, 1e-12), dtype=np.float32)
