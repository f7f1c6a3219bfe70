"""What the imaging tools share within a run: the opened encoder, the embedding cache and
the image folder, kept in `ToolContext.resources` so a run opens the model once."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

from clinsim.scenarios.images import ImageDirectory, ImageMappingError, ImageNotFound, image_path
from clinsim.scenarios.model import ImageRef
from clinsim.tools.base import ToolContext, ToolError
from clinsim.tools.imaging.cache import EmbeddingCache, embed_files
from clinsim.tools.imaging.encoder import Embeddings, ImageEncoder, ImageModelError
from clinsim.tools.imaging.loading import ImageLoadError

NO_MODEL = "no image model configured: pass --image-model DIR (a SigLIP/MedSigLIP checkpoint)"
ENCODERS_KEY = "imaging.encoders"
CACHE_KEY = "imaging.cache"
IMAGE_DIRS_KEY = "imaging.image_dirs"
_LOAD_LOCK = threading.Lock()


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


def shared_cache(ctx: ToolContext) -> EmbeddingCache:
    """The run's embedding cache (on disk too when settings has `image_cache_dir`)."""
    cache = ctx.resources.get(CACHE_KEY)
    if not isinstance(cache, EmbeddingCache):
        directory = getattr(ctx.settings, "image_cache_dir", None)
        cache = EmbeddingCache(directory)
        ctx.resources[CACHE_KEY] = cache
    return cache


@dataclass
class ImagingSession:
    ctx: ToolContext
    encoder: ImageEncoder
    cache: EmbeddingCache

    @classmethod
    async def open(cls, ctx: ToolContext) -> ImagingSession:
        """Open (once per run) the encoder named by ctx.settings.image_model."""
        name = ctx.settings.image_model
        if not name:
            raise ToolError(NO_MODEL)
        try:
            encoder = await asyncio.to_thread(_load_encoder, ctx, name)
        except ImageModelError as exc:
            raise ToolError(f"image model unavailable: {exc}") from exc
        return cls(ctx, encoder, shared_cache(ctx))

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
    """The local file of one of the case's images; a missing file is a ToolError naming it."""
    try:
        return image_path(ref, ctx.scenario_id, ctx.base_dir, _image_directory(ctx))
    except (ImageNotFound, ImageMappingError) as exc:
        raise ToolError(str(exc)) from exc


def _image_directory(ctx: ToolContext) -> ImageDirectory | None:
    root = ctx.settings.image_dir
    if root is None:
        return None
    opened: dict[str, ImageDirectory] = ctx.resources.setdefault(IMAGE_DIRS_KEY, {})
    key = str(root)
    if key not in opened:
        opened[key] = ImageDirectory.open(root)
    return opened[key]
