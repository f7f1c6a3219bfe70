"""Images attached to chat messages: opened as RGB for in-process models, or encoded as data URIs
for OpenAI-compatible servers. Clinical formats (DICOM) go through clinsim.tools.imaging."""

from __future__ import annotations

import base64
import io
import mimetypes
from pathlib import Path
from typing import Any

from clinsim.agents.models.base import ModelError

_WEB_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def open_image(path: str) -> Any:
    """The image at `path` as an RGB PIL image; ModelError naming the file when it cannot be."""
    if not Path(path).is_file():
        raise ModelError(f"image {path!r} does not exist")
    from clinsim.tools.imaging import load_image

    try:
        return load_image(path)
    except (OSError, ValueError) as error:  # ImageLoadError is a ValueError
        raise ModelError(f"cannot open image {path!r}: {error}") from error


def image_data_uri(path: str) -> str:
    """A local image as a base64 data URI; formats browsers cannot show are converted to PNG."""
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"image {path!r} does not exist")
    mime = mimetypes.guess_type(file.name)[0] or ""
    if mime in _WEB_IMAGE_TYPES:
        data = file.read_bytes()
    else:
        buffer = io.BytesIO()
        open_image(path).save(buffer, format="PNG")
        data, mime = buffer.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
