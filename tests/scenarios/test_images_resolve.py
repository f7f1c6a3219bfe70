"""Finding the local file of each scenario image: relative paths, --image-dir, NEJM urls
(by file name or a mapping file), pydicom's examples, and clear errors for missing images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import agentclinic

from clinsim.scenarios.images import (
    ImageDirectory,
    ImageMappingError,
    ImageNotFound,
    image_path,
    resolve_images,
)
from clinsim.scenarios.loader import load_file
from clinsim.scenarios.model import ImageRef
from clinsim.scenarios.sets import get_set, load_scenarios

URL = "https://www.nejm.org/na101/home/literatum/images/nejm_ic_123.jpg?v=2"


def nejm_record(url: str = URL) -> dict[str, object]:
    return {
        "image_url": url,
        "question": "A 30-year-old man has a rash. What is the most likely diagnosis?",
        "patient_info": "A 30-year-old man with a rash.",
        "physical_exams": "1. Skin: papules.",
        "answers": [{"text": "Psoriasis", "correct": True}, {"text": "Eczema", "correct": False}],
        "type": ["dermatology"],
    }


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def clinsim_record(image: dict[str, object]) -> dict[str, object]:
    return {
        "schema_version": 1,
        "id": "mine/1",
        "case": {"objective": "Read it.", "images": [image]},
        "answer": {"diagnosis": "Normal"},
        "provenance": {"source": "mine"},
    }


def test_bundled_image_set_resolves_every_image() -> None:
    assert get_set("images").path.is_file()
    scenarios = load_scenarios(["images"])
    assert len(scenarios) >= 30
    for scenario in scenarios:
        assert scenario.case.images, scenario.id
        assert scenario.answer.diagnosis
        for ref in scenario.case.images:
            assert image_path(ref, scenario.id).is_file()
            if ref.path and not ref.path.startswith("pydicom:"):
                assert Path(ref.path).is_absolute()  # resolved at load time


def test_bundled_scenarios_keep_the_answer_out_of_captions() -> None:
    for scenario in load_scenarios(["images"]):
        answer = scenario.answer.diagnosis.lower()
        for ref in scenario.case.images:
            assert answer not in (ref.caption or "").lower(), scenario.id


def test_relative_path_resolves_against_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(b"x")
    file = write_jsonl(tmp_path / "s.jsonl", [clinsim_record({"id": "i1", "path": "pics/a.png"})])
    report = load_file(file)
    assert report.ok
    assert report.scenarios[0].case.images[0].path == str((tmp_path / "pics" / "a.png").resolve())


def test_relative_path_found_in_image_dir(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"x")
    file = write_jsonl(tmp_path / "s.jsonl", [clinsim_record({"id": "i1", "path": "pics/a.png"})])
    assert not load_file(file).errors  # without --image-dir: left for later, no error
    report = load_file(file, image_dir=images)
    assert report.ok and report.scenarios[0].case.images[0].path == str(images / "a.png")


def test_nejm_url_mapped_by_file_name(tmp_path: Path) -> None:
    (tmp_path / "nejm_ic_123.jpg").write_bytes(b"x")
    file = write_jsonl(tmp_path / "nejm.jsonl", [nejm_record()])
    report = load_file(file, image_dir=tmp_path)
    assert report.ok, report.errors
    assert report.scenarios[0].case.images[0].path == str(tmp_path / "nejm_ic_123.jpg")
    assert report.scenarios[0].case.images[0].url == URL


@pytest.mark.parametrize("kind", ["csv", "json", "folder"])
def test_nejm_url_mapped_by_mapping_file(tmp_path: Path, kind: str) -> None:
    (tmp_path / "case7.png").write_bytes(b"x")
    if kind == "json":
        mapping = tmp_path / "map.json"
        mapping.write_text(json.dumps({URL: "case7.png"}))
    else:
        mapping = tmp_path / ("image_map.csv" if kind == "folder" else "map.csv")
        mapping.write_text(f"url,file\n{URL},case7.png\n")
    file = write_jsonl(tmp_path / "nejm.jsonl", [nejm_record()])
    report = load_file(file, image_dir=tmp_path if kind == "folder" else mapping)
    assert report.ok, report.errors
    assert report.scenarios[0].case.images[0].path == str(tmp_path / "case7.png")


def test_mapping_by_scenario_and_image_id(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"x")
    (tmp_path / "image_map.csv").write_text("nejm/0001/image-1,x.png\n")
    ref = ImageRef(id="image-1", url="https://example.org/other.jpg")
    assert image_path(ref, "nejm/0001", image_dir=tmp_path) == tmp_path / "x.png"


def test_missing_image_names_scenario_and_image(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "nejm.jsonl", [nejm_record(), nejm_record()])
    report = load_file(file, set_name="nejm", image_dir=tmp_path)
    assert not report.scenarios and len(report.errors) == 2
    message = str(report.errors[0])
    assert "nejm.jsonl:1" in message and "case.images" in message
    assert "scenario 'nejm/0001', image 'image-1'" in message and "nejm_ic_123.jpg" in message


def test_url_without_image_dir_asks_for_one() -> None:
    with pytest.raises(ImageNotFound, match="--image-dir"):
        image_path(ImageRef(id="image-1", url=URL), "nejm/0001")


def test_pydicom_references(tmp_path: Path) -> None:
    assert image_path(ImageRef(id="a", path="pydicom:ct")).name == "CT_small.dcm"
    assert image_path(ImageRef(id="a", path="pydicom:mr")).name == "MR_small.dcm"
    with pytest.raises(ImageNotFound, match=r"image 'a'.*no example file 'nothing'"):
        image_path(ImageRef(id="a", path="pydicom:nothing"))


def test_bad_mapping_files_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "map.csv"
    bad.write_text("only-one-column\n")
    with pytest.raises(ImageMappingError, match=r"map.csv:1: expected two columns"):
        ImageDirectory.open(bad)
    (tmp_path / "m.json").write_text("[1, 2]")
    with pytest.raises(ImageMappingError, match="expected a JSON object"):
        ImageDirectory.open(tmp_path / "m.json")
    file = write_jsonl(tmp_path / "nejm.jsonl", [nejm_record()])
    report = load_file(file, image_dir=tmp_path / "absent")
    assert "no such image folder or mapping file" in str(report.errors[0])


def test_resolve_images_non_strict_keeps_unresolved(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "nejm.jsonl", [nejm_record()])
    scenario = load_file(file).scenarios[0]
    same, errors = resolve_images(scenario, tmp_path, None, strict=False)
    assert errors == [] and same.case.images[0].path is None


NEJM_SERVER = "https://csvc.nejm.org/ContentServer/images?id=IC20240111&width=1500&height=4000"


def test_nejm_image_server_urls_match_files_named_by_id(tmp_path: Path) -> None:
    (tmp_path / "IC20240111.png").write_bytes(b"x")
    (tmp_path / "images").write_bytes(b"not this one")
    ref = ImageRef(id="image-1", url=NEJM_SERVER)
    assert image_path(ref, "nejm/0001", image_dir=tmp_path) == tmp_path / "IC20240111.png"
    with pytest.raises(ImageNotFound, match=r"looked for 'IC20240118'"):
        image_path(ref.model_copy(update={"url": NEJM_SERVER.replace("0111", "0118")}), "n/1",
                   image_dir=tmp_path)  # fmt: skip


def test_agentclinic_nejm_images_resolve_from_an_image_dir(tmp_path: Path) -> None:
    from clinsim.scenarios.images import url_names

    source = agentclinic("agentclinic_nejm.jsonl")
    urls = [json.loads(line)["image_url"] for line in source.read_text().splitlines() if line]
    for url in urls:
        (tmp_path / f"{url_names(url)[0]}.jpg").write_bytes(b"x")
    report = load_file(source, set_name="nejm", image_dir=tmp_path)
    assert report.ok, report.errors[:3]
    paths = [s.case.images[0].path for s in report.scenarios]
    assert len(paths) == len(urls) and len(set(paths)) == len(set(urls))
    missing = load_file(source, set_name="nejm", image_dir=tmp_path / "none")
    assert not missing.scenarios
