"""Read scenario files (JSONL, one record a line; any of the supported formats per record)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from clinsim.scenarios.agentclinic import (
    NejmRecord,
    OsceRecord,
    detect_format,
    nejm_to_scenario,
    osce_to_scenario,
)
from clinsim.scenarios.errors import RecordError, errors_from_validation
from clinsim.scenarios.images import ImageDirectory, ImageMappingError, resolve_images
from clinsim.scenarios.model import Provenance, Scenario


@dataclass
class LoadReport:
    file: str
    scenarios: list[Scenario] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _records(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def _parse(text: str) -> object:
    """One record's JSON; ValueError (with a short reason) for anything that is not plain JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python reads (4300 digits)
        raise ValueError(f"invalid JSON: {str(exc).split(';')[0]}") from None


def lone_surrogate(raw: object) -> str | None:
    """The field path of the first text holding a lone surrogate (not valid Unicode, so it
    cannot be stored), or None. Keys count too; '' is the record itself."""
    stack: list[tuple[str, object]] = [("", raw)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not _encodes(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if not _encodes(str(key)):
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _convert(
    raw: object, scenario_id: str, provenance: Provenance, file: str, line: int
) -> Scenario | list[RecordError]:
    if not isinstance(raw, dict):
        return [RecordError(file, line, "", f"expected a JSON object, got {type(raw).__name__}")]
    fmt = detect_format(raw)
    try:
        if fmt == "osce":
            return osce_to_scenario(OsceRecord.model_validate(raw), scenario_id, provenance)
        if fmt == "nejm":
            return nejm_to_scenario(NejmRecord.model_validate(raw), scenario_id, provenance)
        if fmt == "clinsim":
            return Scenario.model_validate(raw)
    except ValidationError as exc:
        return errors_from_validation(exc, file, line)
    keys = ", ".join(sorted(raw)[:6]) or "none"
    return [
        RecordError(
            file,
            line,
            "",
            "unknown record format (expected OSCE_Examination, NEJM question/answers, "
            f"or a clinsim scenario with schema_version); keys: {keys}",
        )
    ]


def load_file(
    path: str | Path,
    set_name: str | None = None,
    source: str | None = None,
    license: str | None = None,
    attribution: str | None = None,
    image_dir: str | Path | ImageDirectory | None = None,
) -> LoadReport:
    """Load every record of a JSONL file. Bad records become errors; good ones still load.

    Image paths relative to the file's folder become absolute when the file exists. With
    `image_dir` (a folder or mapping file), every image must resolve to a local file
    (relative paths and NEJM urls are looked up there too); a missing one is a record error."""
    path = Path(path)
    file = str(path)
    report = LoadReport(file)
    if not path.is_file():
        report.errors.append(RecordError(file, None, "", "no such file"))
        return report
    try:
        images = ImageDirectory.open(image_dir) if image_dir is not None else None
    except ImageMappingError as exc:
        report.errors.append(RecordError(str(image_dir), None, "", str(exc)))
        return report
    prefix = set_name or path.stem
    ids: set[str] = set()
    try:
        records = list(_records(path))
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(RecordError(file, None, "", f"cannot read file: {exc}"))
        return report
    for line, text in records:
        try:
            raw = _parse(text)
        except ValueError as exc:
            report.errors.append(RecordError(file, line, "", str(exc)))
            continue
        bad_text = lone_surrogate(raw)
        if bad_text is not None:
            message = "text holds a lone surrogate escape such as \\ud800 (not valid Unicode)"
            report.errors.append(RecordError(file, line, bad_text, message))
            continue
        provenance = Provenance(
            source=source or prefix,
            file=path.name,
            record=line,
            license=license,
            attribution=attribution,
        )
        result = _convert(raw, f"{prefix}/{line:04d}", provenance, file, line)
        if isinstance(result, list):
            report.errors.extend(result)
            continue
        result, missing = resolve_images(result, path.parent, images, strict=images is not None)
        if missing:
            report.errors.extend(RecordError(file, line, "case.images", str(e)) for e in missing)
            continue
        if result.id in ids:
            report.errors.append(RecordError(file, line, "id", f"duplicate id {result.id!r}"))
            continue
        ids.add(result.id)
        report.scenarios.append(result)
    return report


def write_scenarios(scenarios: list[Scenario], path: str | Path) -> None:
    """Write scenarios in clinsim's own format (one JSON record a line)."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for scenario in scenarios:
            handle.write(scenario.model_dump_json(exclude_defaults=False) + "\n")
