"""Opening image files: PNG/JPEG/TIFF and DICOM (rescale, window, MONOCHROME1, multi-frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from clinsim.scenarios.images import image_path
from clinsim.scenarios.sets import load_scenarios
from clinsim.tools.imaging import ImageLoadError, load_image


def write_dicom(
    path: Path,
    frames: list[list[list[int]]],
    photometric: str = "MONOCHROME2",
    slope: float | None = None,
    intercept: float | None = None,
    window: tuple[float, float] | None = None,
) -> Path:
    pixels = np.asarray(frames, dtype=np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows, ds.Columns = pixels.shape[1], pixels.shape[2]
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept or 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = (pixels if len(frames) > 1 else pixels[0]).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def gray(image: Image.Image) -> list[list[int]]:
    assert image.mode == "RGB"
    array = np.asarray(image)
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()
    return array[..., 0].astype(int).tolist()


def test_dicom_rescale_then_window_from_file(tmp_path: Path) -> None:
    # stored 0..300 -> slope 2, intercept -100 -> -100, 100, 300, 500; window 200/400 -> 0..400
    path = write_dicom(
        tmp_path / "a.dcm", [[[0, 100], [200, 300]]], slope=2, intercept=-100, window=(200, 400)
    )
    assert gray(load_image(path)) == [[0, 64], [191, 255]]


def test_dicom_without_window_uses_min_max(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", [[[10, 20], [30, 40]]], slope=3, intercept=5)
    assert gray(load_image(path)) == [[0, 85], [170, 255]]


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", [[[10, 20], [30, 40]]], photometric="MONOCHROME1")
    assert gray(load_image(path)) == [[255, 170], [85, 0]]


def test_dicom_multiframe_reads_the_first_frame(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "a.dcm", [[[0, 50], [100, 200]], [[200, 100], [50, 0]]])
    assert gray(load_image(path)) == [[0, 64], [128, 255]]


def test_dicom_detected_without_suffix(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "scan", [[[0, 1], [2, 3]]])
    assert load_image(path).size == (2, 2)


@pytest.mark.parametrize("name", ["pydicom:ct", "pydicom:mr"])
def test_pydicom_examples_load(name: str) -> None:
    image = load_image(name)
    assert image.mode == "RGB"
    low, high = image.getextrema()[0]
    assert high > low  # not a blank frame


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[1000, 3000], [5000, 9000]], dtype=np.uint16)).save(path)
    assert gray(load_image(path)) == [[0, 64], [128, 255]]


def test_rgba_is_composited_and_tiff_reads(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (200, 100, 50, 255))
    rgba.save(tmp_path / "a.png")
    rgba.convert("RGB").save(tmp_path / "a.tif")
    for name in ("a.png", "a.tif"):
        image = load_image(tmp_path / name)
        assert image.mode == "RGB" and image.getpixel((0, 0)) == (200, 100, 50)


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(ImageLoadError, match=r"notes\.png"):
        load_image(bad)
    with pytest.raises(ImageLoadError, match="no such image file"):
        load_image(tmp_path / "absent.jpg")


def test_every_bundled_image_loads() -> None:
    scenarios = load_scenarios(["images"])
    refs = [(s.id, ref) for s in scenarios for ref in s.case.images]
    assert len(refs) >= 40
    modalities = {ref.modality for _, ref in refs}
    assert {"chest-xray", "dermatology", "fundus", "histopathology", "ct", "mr"} <= modalities
    for scenario_id, ref in refs:
        image = load_image(image_path(ref, scenario_id))
        assert image.mode == "RGB" and min(image.size) >= 64, (scenario_id, ref.id)
        assert max(image.size) <= 512, (scenario_id, ref.id)
