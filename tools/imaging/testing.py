"""Build small SigLIP checkpoints from config, offline, for tests, examples and benchmarks.

`build_tiny_siglip(directory)` writes a random SiglipModel, a SiglipImageProcessor and a
SiglipTokenizer whose sentencepiece model is trained on the spot, with `save_pretrained`, so
the directory opens through the same AutoModel/AutoProcessor path as MedSigLIP itself
(`clinsim run images --image-model DIR`). The weights are random: the scores mean nothing,
but every step of the real code path runs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TOKENIZER_SENTENCES = (
    "normal chest x-ray",
    "pneumonia with lobar consolidation",
    "bilateral peripheral ground-glass opacities",
    "cardiomegaly and pleural effusion",
    "melanoma, melanocytic nevus, basal cell carcinoma, squamous cell carcinoma",
    "actinic keratosis and seborrheic keratosis",
    "diabetic retinopathy with hard exudates and retinal hemorrhages",
    "tumour epithelium, simple stroma, complex stroma, lymphocytes, adipose tissue",
    "intracranial hemorrhage on CT; brain tumour on MRI",
)

# MedSigLIP-448: SigLIP So400m/14 towers at 448 px, 64 text tokens.
MEDSIGLIP_VISION = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "image_size": 448,
    "patch_size": 14,
}


def train_sentencepiece(path: Path, sentences: tuple[str, ...] = TOKENIZER_SENTENCES) -> Path:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences * 8),
        model_writer=model,
        vocab_size=64,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    return path


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        logging.set_verbosity(level)


def build_siglip(
    directory: str | Path,
    vision: dict[str, Any] | None = None,
    text: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """Write a random-weight SigLIP checkpoint (model, processor, tokenizer) to `directory`."""
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor, SiglipTokenizer
    from transformers.models.siglip import SiglipImageProcessorPil

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = SiglipTokenizer(
        vocab_file=str(train_sentencepiece(out / "spiece.model")), model_max_length=64
    )
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
        **(vision or {}),
    }
    text_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        **(text or {}),
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 64,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": None,
    }
    torch.manual_seed(seed)
    with _quiet_transformers():
        model = SiglipModel(SiglipConfig(text_config=text_config, vision_config=vision_config))
    with torch.no_grad():  # SigLIP's initial temperature and bias, so the scores are not flat
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-1.0)
    model.save_pretrained(out)
    size = int(vision_config["image_size"])
    image_processor = SiglipImageProcessorPil(size={"height": size, "width": size})
    processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)  # type: ignore[no-untyped-call]
    processor.save_pretrained(out)
    return out


def build_tiny_siglip(directory: str | Path, seed: int = 0) -> Path:
    """A SigLIP checkpoint small enough for unit tests (32 px images, 2-layer towers)."""
    return build_siglip(directory, seed=seed)
