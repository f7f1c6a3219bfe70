"""Errors raised while reading scenario files: each names file, record and field."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class RecordError:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = self.field or "<record>"
        return f"{where}: {field}: {self.message}"


class ScenarioLoadError(Exception):
    """One or more records of a scenario source could not be read."""

    def __init__(self, errors: list[RecordError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class UnknownScenarioSet(LookupError):
    pass


def errors_from_validation(
    exc: ValidationError, file: str, line: int | None, prefix: str = ""
) -> list[RecordError]:
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        field = f"{prefix}.{path}" if prefix and path else (prefix or path)
        out.append(RecordError(file, line, field, err["msg"]))
    return out
