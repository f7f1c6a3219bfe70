"""Files made in the cache folder: whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinsim.environments.cache import build_once, write_whole


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "index.npz"

    def half_then_fail(partial: Path) -> None:
        partial.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_whole(target, half_then_fail)
    assert list(target.parent.iterdir()) == []
    write_whole(target, lambda partial: partial.write_bytes(b"whole"))
    assert target.read_bytes() == b"whole"
    assert [p.name for p in target.parent.iterdir()] == ["index.npz"]


def test_build_once_builds_only_what_is_missing(tmp_path: Path) -> None:
    target = tmp_path / "db"
    built: list[Path] = []
    assert build_once(target, lambda path: (built.append(path), path.write_text("x")))
    assert not build_once(target, lambda path: built.append(path))
    assert built == [target]
