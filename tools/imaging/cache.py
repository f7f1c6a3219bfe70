"""Image embeddings cached by (model id, image content hash), in memory and optionally on disk,
so each image is encoded once per model; `embed_files` encodes the misses in one batch."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clinsim.tools.imaging.encoder import Embeddings, ImageEncoder
from clinsim.tools.imaging.loading import content_hash, load_image


class EmbeddingCache:
    """Maps (model id, SHA-256 of the image file) to a normalised embedding.

    With `directory`, entries are also written there as .npy files (one folder per model)
    and read back by later runs."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[tuple[str, str], Embeddings] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.encoded = 0

    def __len__(self) -> int:
        return len(self._memory)

    def _file(self, model_id: str, digest: str) -> Path | None:
        if self.directory is None:
            return None
        folder = hashlib.sha256(model_id.encode()).hexdigest()[:16]
        return self.directory / folder / f"{digest}.npy"

    def get(self, model_id: str, digest: str) -> Embeddings | None:
        with self._lock:
            found = self._memory.get((model_id, digest))
        if found is None:
            file = self._file(model_id, digest)
            if file is not None and file.is_file():
                found = np.load(file).astype(np.float32)
                with self._lock:
                    self._memory[(model_id, digest)] = found
        with self._lock:
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        return found

    def put(self, model_id: str, digest: str, embedding: Embeddings) -> None:
        with self._lock:
            self._memory[(model_id, digest)] = embedding
        file = self._file(model_id, digest)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            # a name of its own: two threads may write the same embedding at once
            partial = file.with_name(f"{file.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npy")
            np.save(partial, embedding)
            partial.replace(file)


def embed_files(
    encoder: ImageEncoder, cache: EmbeddingCache, paths: Sequence[str | Path]
) -> Embeddings:
    """Embeddings of the given image files, one row each, in order. Files already in the
    cache are not opened again beyond hashing; the rest are encoded together in batches."""
    digests = [content_hash(p) for p in paths]
    found: dict[str, Embeddings] = {}
    todo: dict[str, Path] = {}
    for path, digest in zip(paths, digests, strict=True):
        if digest in found or digest in todo:
            continue
        cached = cache.get(encoder.model_id, digest)
        if cached is None:
            todo[digest] = Path(path)
        else:
            found[digest] = cached
    if todo:
        images = [load_image(p) for p in todo.values()]
        rows = encoder.encode_images(images)
        cache.encoded += len(images)
        for digest, row in zip(todo, rows, strict=True):
            cache.put(encoder.model_id, digest, row)
            found[digest] = row
    if not digests:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[d] for d in digests]).astype(np.float32)
