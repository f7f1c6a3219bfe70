"""A person plays the doctor at a real terminal: `clinsim run --doctor human` and
`clinsim replay --fork-at N --doctor human` in a pseudo-terminal, with LangGraph's strict
checkpoint deserialisation on (the default it announces) and, for `run`, also as LangGraph
is installed today. The screen shows the encounter and nothing else: no warning, no
traceback; the episode ends with the diagnosis typed."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from clinsim.environments.run_store import RunStore

CLINSIM = str(Path(sys.executable).with_name("clinsim"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
NOISE = ("warning", "deserializ", "langgraph", "traceback", "msgpack")
DIAGNOSIS = "Community-acquired pneumonia"
PROMPT = r"doctor(?:\x1b\[[0-9;]*m)*: "
"""The doctor's input prompt, however the terminal styles it."""

pytestmark = pytest.mark.slow


def terminal(*args: str, strict: bool = True) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    env.pop("PYTHONWARNINGS", None)
    env.pop("LANGGRAPH_STRICT_MSGPACK", None)
    if strict:
        env["LANGGRAPH_STRICT_MSGPACK"] = "true"
    return pexpect.spawn(
        CLINSIM, list(args), env=env, encoding="utf-8", timeout=60, dimensions=(40, 120)
    )


def play(screen: pexpect.spawn, replies: list[str]) -> str:
    """Answer each doctor prompt with the next reply; the whole screen, escapes removed."""
    for reply in replies:
        screen.expect(PROMPT)
        screen.sendline(reply)
    screen.expect(pexpect.EOF)
    screen.close()
    return ANSI.sub("", screen.before or "")


def plain(text: str) -> str:
    return ANSI.sub("", text)


def assert_clean(screen: str) -> None:
    lowered = screen.lower()
    for word in NOISE:
        assert word not in lowered, f"{word!r} on screen:\n{screen}"


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_a_person_plays_a_whole_episode_as_the_doctor(tmp_path: Path, strict: bool) -> None:
    out = tmp_path / "run"
    args = ["run", "demo", "--limit", "1", "--doctor", "human", "--out", str(out)]
    screen = terminal(*args, strict=strict)
    transcript = ""
    replies = ["What brings you in today?", "/test Chest X-ray", f"/dx {DIAGNOSIS}; Bronchitis"]
    for reply in replies:
        screen.expect(PROMPT)
        transcript += plain(screen.before or "")
        screen.sendline(reply)
    screen.expect(pexpect.EOF)
    transcript += plain(screen.before or "")
    screen.close()
    assert screen.exitstatus == 0, transcript
    assert_clean(transcript)
    assert "turn 1 (20 left)" in transcript and "turn 3 (18 left)" in transcript
    assert "fever" in transcript.lower()  # the patient's answer and the X-ray report are shown
    (record,) = RunStore(out).episodes()
    assert record.termination == "diagnosed" and record.diagnosis == DIAGNOSIS
    assert DIAGNOSIS in transcript


def test_a_person_takes_over_a_recorded_episode(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from clinsim.cli.main import app

    original, fork = tmp_path / "run", tmp_path / "fork"
    made = CliRunner().invoke(app, ["run", "demo", "--limit", "1", "--out", str(original)])
    assert made.exit_code == 0, made.output
    episode = RunStore(original).episodes()[0].episode_id
    args = ["replay", str(original), episode, "--fork-at", "3", "--doctor", "human"]
    screen = terminal(*args, "--out", str(fork))
    transcript = play(screen, [f"/dx {DIAGNOSIS}"])
    assert screen.exitstatus == 0, transcript
    assert_clean(transcript)
    assert "turn 3" in transcript and "shares the original's" in transcript
    (record,) = RunStore(fork).episodes()
    assert record.termination == "diagnosed" and record.diagnosis == DIAGNOSIS
