"""What an ordered test costs: a price table that users can replace.

The default table is `clinsim/environments/data/prices.json` (illustrative list prices in USD,
not a tariff). Replace it with `PriceTable.load(path)` (`--prices FILE` on the CLI). Format:

    {
      "currency": "USD",                      optional, default "USD"
      "note": "where the numbers come from",  optional
      "default_cost": 50,                     cost of an order no category matches
      "categories": [                         checked in file order; the first match wins
        {"name": "physical examination", "cost": 0, "patterns": ["exam", "vital signs"]},
        {"name": "ct", "cost": 500, "patterns": ["CT", "computed tomography"]}
      ]
    }

A pattern matches when its words appear, in order and adjacent, in the order's name after both
are canonicalised (`clinsim.environments.test_names`): the pattern "CBC" prices "complete blood
count", "x-ray" prices "Chest_X-Ray". Put specific categories (blood culture) before general
ones (blood tests). Costs are non-negative numbers.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from clinsim.environments.test_names import canonical_tokens

_MEMO_SIZE = 4096
"""Test names whose category a table remembers (orders repeat across a run's episodes)."""


class PriceTableError(ValueError):
    """A price file that cannot be read; the message names the file and the field."""


class PriceCategory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    cost: float = Field(ge=0)
    patterns: list[str] = Field(min_length=1)


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = "USD"
    note: str = ""
    default_cost: float = Field(ge=0)
    categories: list[PriceCategory] = Field(default_factory=list)
    _found: dict[str, PriceCategory | None] = PrivateAttr(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> PriceTable:
        """Read a price file (format in the module docstring)."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise PriceTableError(f"{path}: cannot read price file: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise PriceTableError(
                f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
            ) from None
        try:
            table = cls.model_validate(raw)
        except ValidationError as error:
            raise PriceTableError(_describe(path, error)) from None
        for number, category in enumerate(table.categories):
            for pattern in category.patterns:
                if not canonical_tokens(pattern):
                    raise PriceTableError(
                        f"{path}: categories.{number}.patterns: {pattern!r} has no words that "
                        "name a test (it only holds filler such as 'test' or 'results')"
                    )
        return table

    @classmethod
    def default(cls) -> PriceTable:
        """The bundled table."""
        return _default_table()

    def category_of(self, test: str) -> PriceCategory | None:
        if test in self._found:
            return self._found[test]
        words = canonical_tokens(test)
        found = next(
            (
                category
                for category in self.categories
                if any(_contains(words, canonical_tokens(p)) for p in category.patterns)
            ),
            None,
        )
        if len(self._found) < _MEMO_SIZE:
            self._found[test] = found
        return found

    def cost_of(self, test: str) -> float:
        """The cost of ordering `test`; `default_cost` when no category matches."""
        category = self.category_of(test)
        return category.cost if category is not None else self.default_cost


def default_price_path() -> Path:
    return Path(str(resources.files("clinsim.environments").joinpath("data", "prices.json")))


@lru_cache(maxsize=1)
def _default_table() -> PriceTable:
    return PriceTable.load(default_price_path())


def _contains(words: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    size = len(pattern)
    if not size:
        return False
    return any(words[i : i + size] == pattern for i in range(len(words) - size + 1))


def _describe(path: Path, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{path}: {where}: {problem['msg']}")
    return "\n".join(lines)


def price_table(path: str | Path | None) -> PriceTable:
    """The table in the file at `path`, else the bundled one."""
    return PriceTable.load(path) if path else PriceTable.default()
