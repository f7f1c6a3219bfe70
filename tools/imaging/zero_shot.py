"""Zero-shot classification: score candidate labels against images, best first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clinsim.tools.imaging.cache import EmbeddingCache, embed_files
from clinsim.tools.imaging.encoder import Embeddings, ImageEncoder


@dataclass(frozen=True)
class Finding:
    label: str
    probability: float


def rank_labels(
    encoder: ImageEncoder, image_embeddings: Embeddings, labels: Sequence[str]
) -> list[list[Finding]]:
    """For each image row, every label with its sigmoid probability, most probable first."""
    scores = encoder.probabilities(image_embeddings, encoder.encode_texts(list(labels)))
    ranked = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        ranked.append([Finding(labels[i], float(row[i])) for i in order])
    return ranked


def classify_files(
    encoder: ImageEncoder,
    paths: Sequence[str | Path],
    labels: Sequence[str],
    cache: EmbeddingCache | None = None,
) -> list[list[Finding]]:
    """Zero-shot classify image files (encoded together, through the cache)."""
    embeddings = embed_files(encoder, cache or EmbeddingCache(), paths)
    return rank_labels(encoder, embeddings, labels)
