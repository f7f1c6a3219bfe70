"""What the imaging tools share within a run: the opened encoder and the embedding cache, kept in
`ToolContext.resources` so a run opens the model once; and their configuration."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from clinsim.plugins import Config
from clinsim.scenarios.images import ImageMappingError, ImageNotFound, image_path
from clinsim.scenarios.model import ImageRef
from clinsim.tools.base import ToolContext, ToolError
from clinsim.tools.imaging.cache import EmbeddingCache, embed_files
from clinsim.tools.imaging.encoder import Embeddings, ImageEncoder, ImageModelError
from clinsim.tools.imaging.loading import ImageLoadError

NO_MODEL = "no image model configured: pass --image-model DIR (a SigLIP/MedSigLIP checkpoint)"
ENCODERS_KEY = "imaging.encoders"
CACHE_KEY = "imaging.cache"
_LOAD_LOCK = threading.Lock()


class ImagingConfig(Config):
    image_model: str | None = Field(
        default=None, description="SigLIP/MedSigLIP checkpoint folder or cached model id."
    )
    image_cache_dir: Path | None = Field(
        default=None, description="Keep image embeddings on disk here, across runs."
    )


def _load_encoder(ctx: ToolContext, name: str) -> ImageEncoder:
    """Open the encoder once per run; a failure is remembered, not retried on every call."""
    with _LOAD_LOCK:
        encoders: dict[str, ImageEncoder | ImageModelError]
        encoders = ctx.resources.setdefault(ENCODERS_KEY, {})
        if name not in encoders:
            try:
                encoders[name] = ImageEncoder.load(name)
            except ImageModelError as exc:
                encoders[name] = exc
        found = encoders[name]
        if isinstance(found, ImageModelError):
            raise found
        return found


def shared_cache(ctx: ToolContext, directory: Path | None) -> EmbeddingCache:
    """The run's embedding cache (on disk too, in `directory`, when given)."""
    cache = ctx.resources.get(CACHE_KEY)
    if not isinstance(cache, EmbeddingCache):
        cache = EmbeddingCache(directory)
        ctx.resources[CACHE_KEY] = cache
    return cache


@dataclass
class ImagingSession:
    ctx: ToolContext
    encoder: ImageEncoder
    cache: EmbeddingCache

    @classmethod
    async def open(cls, ctx: ToolContext, config: ImagingConfig) -> ImagingSession:
        """Open (once per run) the encoder named by `config.image_model`."""
        name = config.image_model
        if not name:
            raise ToolError(NO_MODEL)
        try:
            encoder = await asyncio.to_thread(_load_encoder, ctx, name)
        except ImageModelError as exc:
            raise ToolError(f"image model unavailable: {exc}") from exc
        return cls(ctx, encoder, shared_cache(ctx, config.image_cache_dir))

    def path_of(self, ref: ImageRef) -> Path:
        return resolve_path(self.ctx, ref)

    async def embed(self, refs: list[ImageRef]) -> Embeddings:
        """Embeddings of the scenario's images `refs`, encoding cache misses in one batch."""
        paths = [self.path_of(ref) for ref in refs]
        try:
            return await asyncio.to_thread(embed_files, self.encoder, self.cache, paths)
        except ImageLoadError as exc:
            raise ToolError(f"cannot read image: {exc}") from exc

    async def embed_texts(self, texts: list[str]) -> Embeddings:
        return await asyncio.to_thread(self.encoder.encode_texts, texts)


def find_image(ctx: ToolContext, image_id: object) -> ImageRef:
    """The scenario's image with this id, or a ToolError listing the ids there are."""
    for ref in ctx.case.images:
        if ref.id == image_id:
            return ref
    known = ", ".join(ref.id for ref in ctx.case.images) or "none"
    raise ToolError(f"no image {image_id!r} in this case (images: {known})")


def resolve_path(ctx: ToolContext, ref: ImageRef) -> Path:
    """The local file of one of the case's images (scenario files are loaded with their images
    resolved, `--image-dir` included); a missing file is a ToolError naming it."""
    try:
        return image_path(ref, ctx.scenario_id, ctx.base_dir)
    except (ImageNotFound, ImageMappingError) as exc:
        raise ToolError(str(exc)) from exc
