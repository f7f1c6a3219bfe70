"""Open medical image files as 8-bit RGB PIL images: PNG, JPEG, TIFF and DICOM.

DICOM: the first frame of a multi-frame file; rescale slope/intercept (modality LUT); a
window from the file's Window Center/Width when present, else the frame's min-max;
MONOCHROME1 inverted so that higher values are brighter; colour data converted to RGB.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}


class ImageLoadError(ValueError):
    """A file that cannot be opened as an image; the message names the file."""


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes: the image's identity in the embedding cache."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ImageLoadError(f"{path}: cannot read image file: {exc}") from exc
    return digest.hexdigest()


def is_dicom(path: Path) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def load_image(path: str | Path) -> Image.Image:
    """Open any supported file (PNG, JPEG, TIFF, DICOM, or `pydicom:ct`-style example names)
    as an 8-bit RGB image."""
    text = str(path)
    if text.startswith("pydicom:"):
        from clinsim.scenarios.images import pydicom_example

        path = pydicom_example(text.removeprefix("pydicom:"))
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such image file")
    if is_dicom(path):
        return load_dicom(path)
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path}: cannot read image: {exc}") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode; 16-bit and float grayscale are min-max scaled."""
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        pixels = np.asarray(image, dtype=np.float64)
        return _gray_to_rgb(_scale(pixels, float(pixels.min()), float(pixels.max())))
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_dicom(path: str | Path) -> Image.Image:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, AttributeError) as exc:
        raise ImageLoadError(f"{path}: cannot read DICOM file: {exc}") from exc
    try:
        return dicom_to_image(dataset)
    except ImageLoadError as exc:
        raise ImageLoadError(f"{path}: {exc}") from exc


def dicom_to_image(dataset: Any) -> Image.Image:
    """Convert a pydicom Dataset's first frame to an 8-bit RGB image."""
    from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
    from pydicom.pixels.utils import pixel_array

    if "PixelData" not in dataset:
        raise ImageLoadError("DICOM file has no pixel data")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    try:
        pixels = pixel_array(dataset, index=0 if frames > 1 else None)
    except Exception as exc:  # pydicom raises many kinds for unsupported encodings
        raise ImageLoadError(f"cannot decode DICOM pixel data: {exc}") from exc
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        return Image.fromarray(_to_uint8_color(apply_color_lut(pixels, dataset)), "RGB")
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        return Image.fromarray(_to_uint8_color(pixels[..., :3]), "RGB")
    values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
    window = dicom_window(dataset)
    if window is None:
        gray = _scale(values, float(values.min()), float(values.max()))
    else:
        center, width = window
        gray = _scale(values, center - width / 2, center + width / 2)
    if photometric == "MONOCHROME1":
        gray = 255 - gray
    return _gray_to_rgb(gray)


def dicom_window(dataset: Any) -> tuple[float, float] | None:
    """(center, width) from Window Center/Width (the first of several), or None."""
    center = dataset.get("WindowCenter")
    width = dataset.get("WindowWidth")
    if center is None or width is None:
        return None
    center = center[0] if _is_sequence(center) else center
    width = width[0] if _is_sequence(width) else width
    try:
        c, w = float(center), float(width)
    except (TypeError, ValueError):
        return None
    return (c, w) if w > 0 else None


def _is_sequence(value: Any) -> bool:
    return not isinstance(value, str | bytes) and hasattr(value, "__getitem__")


def _scale(values: NDArray[Any], low: float, high: float) -> NDArray[np.uint8]:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values.astype(np.float64) - low) / (high - low)
    return np.asarray(np.round(np.clip(scaled, 0.0, 1.0) * 255.0), dtype=np.uint8)


def _to_uint8_color(pixels: NDArray[Any]) -> NDArray[np.uint8]:
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:  # 16-bit colour (palette LUTs are usually 16-bit)
        return np.asarray(np.round(pixels / 257.0), dtype=np.uint8)
    return _scale(pixels, float(pixels.min()), float(pixels.max()))


def _gray_to_rgb(gray: NDArray[np.uint8]) -> Image.Image:
    if gray.ndim != 2:
        raise ImageLoadError(f"expected a 2-D grayscale frame, got shape {gray.shape}")
    return Image.fromarray(gray, "L").convert("RGB")
