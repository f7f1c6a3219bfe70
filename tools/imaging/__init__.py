"""Medical images for the doctor: loading (PNG, JPEG, TIFF, DICOM), a MedSigLIP-compatible
encoder with zero-shot classification and retrieval, an embedding cache, and the imaging tools
(`read_image`, `find_similar_images`, `search_images`, registered by
`clinsim.tools.imaging.tools`).

Importing this package is light: torch and transformers load when an encoder is opened.
"""

from clinsim.tools.imaging.loading import ImageLoadError, content_hash, load_image

__all__ = ["ImageLoadError", "content_hash", "load_image"]
