"""The doctor's imaging tools: read_image, find_similar_images, search_images.

Tool names are public API. Each is offered only when the case has images. Scores come from a
MedSigLIP-compatible encoder (`ImagingConfig.image_model`); without one the tools answer with a
ToolError the doctor sees, and the episode goes on.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, Field, JsonValue, field_validator

from clinsim.environments.tool_spec import Arguments
from clinsim.tools.base import Tool, ToolContext, ToolError, ToolResult, ToolSpec, tool
from clinsim.tools.imaging.session import ImagingConfig, ImagingSession, find_image
from clinsim.tools.imaging.vocabularies import default_labels, normalise_modality
from clinsim.tools.imaging.zero_shot import rank_labels

MAX_LABELS = 64
A = TypeVar("A", bound=BaseModel)
DEFAULT_TOP_K = 5


def _labels(value: object) -> list[str] | None:
    """A list of labels or one comma-separated string; None when not given."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("labels must be a list of strings or a comma-separated string")
    if not all(isinstance(item, str) for item in items):
        raise ValueError("labels must be a list of strings")
    labels = list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if not labels:
        return None
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels per call (got {len(labels)})")
    return labels


class ReadImageArguments(Arguments):
    image_id: str = Field(description="Id of the image, e.g. image-1.")
    labels: list[str] | None = Field(
        default=None, description="Candidate findings to score (optional)."
    )
    top_k: int | None = Field(default=None, ge=1, strict=True, description="Findings to return.")

    @field_validator("labels", mode="before")
    @classmethod
    def _label_list(cls, value: object) -> list[str] | None:
        return _labels(value)


class SimilarArguments(Arguments):
    image_id: str = Field(description="Id of the query image.")
    top_k: int | None = Field(default=None, ge=1, strict=True, description="How many to return.")


class SearchArguments(Arguments):
    text: str = Field(description="What to look for, e.g. 'pleural effusion'.")
    top_k: int | None = Field(default=None, ge=1, strict=True, description="How many to return.")

    @field_validator("text")
    @classmethod
    def _query(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text must be a non-empty string")
        return text.strip()


def _has_images(ctx: ToolContext) -> bool:
    return bool(ctx.case.images)


class ImagingTool(Tool[A]):
    def __init__(self, config: ImagingConfig):
        self.config = config


class ReadImage(ImagingTool[ReadImageArguments]):
    spec = ToolSpec(
        name="read_image",
        description=(
            "Read one of the case's medical images with a MedSigLIP image model: returns the "
            "most likely findings with zero-shot probabilities (independent sigmoid scores). "
            "Give `labels` to score your own candidate findings; otherwise a default vocabulary "
            "for the image's modality is used."
        ),
        arguments=ReadImageArguments,
    )

    def available(self, ctx: ToolContext) -> bool:
        return _has_images(ctx)

    async def run(self, arguments: ReadImageArguments, ctx: ToolContext) -> ToolResult:
        ref = find_image(ctx, arguments.image_id)
        labels = arguments.labels
        session = await ImagingSession.open(ctx, self.config)
        if labels is None:
            vocabulary, labels = default_labels(ref.modality)
            source, default_k = f"default {vocabulary} vocabulary", DEFAULT_TOP_K
        else:
            source, default_k = "requested labels", len(labels)
        top_k = arguments.top_k or default_k
        image = await session.embed([ref])
        ranked = (await asyncio.to_thread(rank_labels, session.encoder, image, labels))[0]
        findings: list[JsonValue] = [
            {"label": f.label, "probability": round(f.probability, 4)} for f in ranked[:top_k]
        ]
        modality = normalise_modality(ref.modality) or "unknown modality"
        listed = "; ".join(f"{f.label} {f.probability:.2f}" for f in ranked[:top_k])
        text = (
            f"{ref.id} ({modality}), {len(labels)} labels scored ({source}). "
            f"Top findings: {listed}. Probabilities are independent per label."
        )
        data: dict[str, JsonValue] = {
            "image_id": ref.id,
            "modality": ref.modality,
            "model": session.encoder.model_id,
            "labels_source": source,
            "findings": findings,
        }
        return ToolResult(text=text, data=data, images=[ref.id])


class FindSimilarImages(ImagingTool[SimilarArguments]):
    spec = ToolSpec(
        name="find_similar_images",
        description=(
            "Rank the case's other images by visual similarity to one image (cosine similarity "
            "of MedSigLIP image embeddings)."
        ),
        arguments=SimilarArguments,
    )

    def available(self, ctx: ToolContext) -> bool:
        return len(ctx.case.images) > 1

    async def run(self, arguments: SimilarArguments, ctx: ToolContext) -> ToolResult:
        query = find_image(ctx, arguments.image_id)
        others = [ref for ref in ctx.case.images if ref.id != query.id]
        if not others:
            raise ToolError("this case has no other image to compare with")
        top_k = arguments.top_k or len(others)
        session = await ImagingSession.open(ctx, self.config)
        embeddings = await session.embed([query, *others])
        similarity = embeddings[1:] @ embeddings[0]
        order = np.argsort(-similarity, kind="stable")[:top_k]
        ranked = [
            {"image_id": others[i].id, "similarity": round(float(similarity[i]), 4)} for i in order
        ]
        listed = "; ".join(f"{r['image_id']} {r['similarity']:.3f}" for r in ranked)
        return ToolResult(
            text=f"Images most similar to {query.id} (cosine): {listed}.",
            data={"image_id": query.id, "similar": list(ranked)},
        )


class SearchImages(ImagingTool[SearchArguments]):
    spec = ToolSpec(
        name="search_images",
        description=(
            "Rank the case's images by how well they match a text description (MedSigLIP "
            "text-to-image retrieval), with the sigmoid probability that each image shows it."
        ),
        arguments=SearchArguments,
    )

    def available(self, ctx: ToolContext) -> bool:
        return _has_images(ctx)

    async def run(self, arguments: SearchArguments, ctx: ToolContext) -> ToolResult:
        query = arguments.text
        refs = list(ctx.case.images)
        top_k = arguments.top_k or len(refs)
        session = await ImagingSession.open(ctx, self.config)
        images = await session.embed(refs)
        text = await session.embed_texts([query])
        scores = session.encoder.probabilities(images, text)[:, 0]
        order = np.argsort(-scores, kind="stable")[:top_k]
        ranked = [
            {"image_id": refs[i].id, "probability": round(float(scores[i]), 4)} for i in order
        ]
        listed = "; ".join(f"{r['image_id']} {r['probability']:.2f}" for r in ranked)
        return ToolResult(
            text=f"Images matching {query!r}: {listed}.",
            data={"text": query, "matches": list(ranked)},
        )


@tool("read_image", config=ImagingConfig)
def read_image(config: ImagingConfig) -> ReadImage:
    return ReadImage(config)


@tool("find_similar_images", config=ImagingConfig)
def find_similar_images(config: ImagingConfig) -> FindSimilarImages:
    return FindSimilarImages(config)


@tool("search_images", config=ImagingConfig)
def search_images(config: ImagingConfig) -> SearchImages:
    return SearchImages(config)
