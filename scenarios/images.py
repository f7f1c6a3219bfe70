"""Find the local file behind each image of a scenario.

An `ImageRef` names its image in one of three ways:

- `path`: a file path, absolute or relative to the scenario file's folder (or to an image
  folder given with `--image-dir`);
- `path` of the form `pydicom:<name>`: one of the example DICOM files shipped inside pydicom's
  wheel (`pydicom:ct`, `pydicom:mr`, or a test-file name such as `pydicom:CT_small.dcm`), used
  instead of copying those files;
- `url` only (NEJM records): mapped to a file in the image folder, by a mapping file
  (CSV or JSON, url-or-id -> file) or by the URL's file name.

`ImageDirectory.open(path)` reads an `--image-dir` argument (a folder, or a mapping file);
`image_path(ref, ...)` returns the absolute path of one image or raises `ImageNotFound`
naming the scenario and the image; `resolve_images(scenario, ...)` fills in absolute paths for
a whole scenario. Nothing here opens the images themselves.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlparse

from clinsim.scenarios.model import ImageRef, Scenario

PYDICOM_SCHEME = "pydicom:"
PYDICOM_EXAMPLES = {"ct": "CT_small.dcm", "mr": "MR_small.dcm"}
MAPPING_FILE_NAMES = ("image_map.csv", "image_map.json")
URL_ID_PARAMETERS = ("id", "image", "file", "filename", "name")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".dcm", ".gif", ".bmp", ".webp")


class ImageNotFound(LookupError):
    """An image of a scenario has no readable local file."""


class ImageMappingError(ValueError):
    """A mapping file given with --image-dir cannot be read."""


@dataclass(frozen=True)
class ImageDirectory:
    """A folder of local images plus an optional mapping (url, url file name, image id,
    or '<scenario id>/<image id>') -> file name relative to `root`."""

    root: Path
    mapping: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path | ImageDirectory) -> ImageDirectory:
        """A folder (its `image_map.csv`/`image_map.json` is read if present) or a mapping
        file (whose folder is the root)."""
        if isinstance(path, ImageDirectory):
            return path
        path = Path(path).expanduser()
        if path.is_dir():
            for name in MAPPING_FILE_NAMES:
                if (path / name).is_file():
                    return cls(path.resolve(), read_mapping(path / name))
            return cls(path.resolve())
        if path.is_file():
            return cls(path.parent.resolve(), read_mapping(path))
        raise ImageMappingError(f"{path}: no such image folder or mapping file")

    def named(self, name: str) -> list[Path]:
        """`root/name`, then the same stem with any image suffix (a copy saved as PNG)."""
        found = [self.root / name]
        stem = PurePosixPath(name).stem if PurePosixPath(name).suffix else name
        found += [self.root / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
        return list(dict.fromkeys(found))

    def lookup(self, keys: list[str]) -> Path | None:
        for key in keys:
            name = self.mapping.get(key)
            if name is not None:
                return self.root / name
        return None


def read_mapping(path: Path) -> dict[str, str]:
    """Read a mapping file: JSON object {key: file}, or CSV with two columns (key, file).
    A CSV header row naming `file`/`path` as its second column is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageMappingError(f"{path}: cannot read mapping file: {exc}") from exc
    if path.suffix.lower() == ".json":
        return _json_mapping(path, text)
    mapping: dict[str, str] = {}
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise ImageMappingError(f"{path}:{line}: expected two columns: url-or-id,file")
        key, name = row[0].strip(), row[1].strip()
        if line == 1 and name.lower() in {"file", "path", "filename", "file_name"}:
            continue
        mapping[key] = name
    return mapping


def _json_mapping(path: Path, text: str) -> dict[str, str]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImageMappingError(f"{path}: invalid JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # over-long numbers, deep nesting
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise ImageMappingError(f"{path}: invalid JSON: {reason}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ImageMappingError(f"{path}: expected a JSON object mapping url-or-id to file name")
    return {str(k): v for k, v in raw.items()}


def pydicom_example(name: str) -> Path:
    """Path of an example file shipped with pydicom ('ct', 'mr' or a test-file name)."""
    from pydicom.data import get_testdata_file

    file_name = PYDICOM_EXAMPLES.get(name.lower(), name)
    try:
        found = get_testdata_file(file_name, download=False)
    except (ValueError, OSError):
        found = None
    if not found:
        known = ", ".join(sorted(PYDICOM_EXAMPLES))
        raise ImageNotFound(f"pydicom has no example file {name!r} (known short names: {known})")
    return Path(str(found))


def url_file_name(url: str) -> str:
    """'https://x.org/a/b/IMG_1.jpg?v=2' -> 'IMG_1.jpg'."""
    return PurePosixPath(unquote(urlparse(url).path)).name


def url_names(url: str) -> list[str]:
    """Names a downloaded copy of `url` is likely saved under: the URL's file name when it
    has an extension, and the value of an id-like query parameter (NEJM's image server:
    '.../ContentServer/images?id=IC20240111&width=1500' -> 'IC20240111')."""
    parsed = urlparse(url)
    base = url_file_name(url)
    names = [base] if PurePosixPath(base).suffix else []
    query = parse_qs(parsed.query)
    for key in URL_ID_PARAMETERS:
        names += [value for value in query.get(key, []) if value and "/" not in value]
    if not names and base:
        names.append(base)
    return list(dict.fromkeys(names))


def _as_directory(image_dir: ImageDirectory | str | Path | None) -> ImageDirectory | None:
    return None if image_dir is None else ImageDirectory.open(image_dir)


def _candidates(
    ref: ImageRef, scenario_id: str, base_dir: Path | None, images: ImageDirectory | None
) -> list[Path]:
    out: list[Path] = []
    keys = [f"{scenario_id}/{ref.id}", ref.id]
    if ref.path:
        path = Path(ref.path).expanduser()
        if path.is_absolute():
            return [path]
        if base_dir is not None:
            out.append(base_dir / path)
        keys.insert(0, ref.path)
        if images is not None:
            out += [images.root / path, images.root / path.name]
    if ref.url:
        names = url_names(ref.url)
        keys[:0] = [ref.url, *names]
        if images is not None:
            out += [path for name in names for path in images.named(name)]
    if images is not None:
        mapped = images.lookup(keys)
        if mapped is not None:
            out.insert(0, mapped)
    return out


def image_path(
    ref: ImageRef,
    scenario_id: str = "",
    base_dir: str | Path | None = None,
    image_dir: ImageDirectory | str | Path | None = None,
) -> Path:
    """The absolute path of `ref`'s local file; raises ImageNotFound naming scenario and image.

    `base_dir` is the scenario file's folder; `image_dir` the `--image-dir` folder or mapping
    file (or an opened ImageDirectory)."""
    where = f"scenario {scenario_id!r}, image {ref.id!r}" if scenario_id else f"image {ref.id!r}"
    if ref.path and ref.path.startswith(PYDICOM_SCHEME):
        try:
            return pydicom_example(ref.path[len(PYDICOM_SCHEME) :])
        except ImageNotFound as exc:
            raise ImageNotFound(f"{where}: {exc}") from None
    images = _as_directory(image_dir)
    base = Path(base_dir) if base_dir is not None else None
    tried = _candidates(ref, scenario_id, base, images)
    for candidate in tried:
        if candidate.is_file():
            return candidate.resolve()
    if not ref.path and not ref.url:
        raise ImageNotFound(f"{where}: the image has neither a path nor a url")
    if not tried:
        raise ImageNotFound(
            f"{where}: {ref.url or ref.path} is not a local file; pass --image-dir with the "
            "downloaded images (matched by file name or an image_map.csv/json mapping file)"
        )
    if ref.url and not ref.path and images is not None:
        wanted = " or ".join(repr(name) for name in url_names(ref.url))
        raise ImageNotFound(
            f"{where}: no local copy of {ref.url} in {images.root} (looked for {wanted}, "
            "with any image extension, and in the image_map mapping file)"
        )
    listed = ", ".join(str(p) for p in tried[:4])
    raise ImageNotFound(f"{where}: no such file (looked for {listed})")


def resolve_images(
    scenario: Scenario,
    base_dir: str | Path | None = None,
    image_dir: ImageDirectory | str | Path | None = None,
    strict: bool = True,
) -> tuple[Scenario, list[ImageNotFound]]:
    """Return the scenario with every image that can be found given an absolute `path`, and
    the errors for those that cannot (empty when `strict` is False: unresolved images are kept
    as they are, to be reported when the doctor asks for them)."""
    if not scenario.case.images:
        return scenario, []
    images = _as_directory(image_dir)
    refs: list[ImageRef] = []
    errors: list[ImageNotFound] = []
    for ref in scenario.case.images:
        try:
            path = image_path(ref, scenario.id, base_dir, images)
        except ImageNotFound as exc:
            if strict:
                errors.append(exc)
            refs.append(ref)
            continue
        keep = ref.path is not None and ref.path.startswith(PYDICOM_SCHEME)
        refs.append(ref if keep else ref.model_copy(update={"path": str(path)}))
    case = scenario.case.model_copy(update={"images": refs})
    return scenario.model_copy(update={"case": case}), errors
