"""Transcript entries from an episode's events, and images as data: URIs."""

from __future__ import annotations

import base64
import io
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import cast, get_args

from PIL import Image

from clinsim.environments.events import Event, ModelCalled
from clinsim.report.model import Actor, EntryKind, ImageAsset, TranscriptEntry

PROMPT_CHARS = 500
"""The end of a model call's latest message kept for the viewer (the full call is in the run)."""
ACTORS: frozenset[str] = frozenset(get_args(Actor))


def entries_from_events(events: Sequence[Event]) -> list[TranscriptEntry]:
    """One entry per event, in order; model calls keep their reply and the latest prompt."""
    return [_entry(e) for e in events]


def _entry(e: Event) -> TranscriptEntry:
    """Encounter steps first, then the record around them (start, verdicts, model calls, end)."""
    return _step(e) or _record(e)


def _make(e: Event, actor: Actor, kind: EntryKind, text: str, **data: object) -> TranscriptEntry:
    clean = {k: v for k, v in data.items() if v is not None}
    return TranscriptEntry.model_validate(
        {"turn": e.turn, "actor": actor, "kind": kind, "text": text, "data": clean}
    )


def _step(e: Event) -> TranscriptEntry | None:
    """What the doctor did and what came back."""
    if e.kind == "question_asked":
        return _make(e, "doctor", "question", e.question)
    if e.kind == "patient_answered":
        return _make(e, "patient", "answer", e.answer)
    if e.kind == "test_ordered":
        return _make(e, "doctor", "test_order", f"orders {e.test}", test=e.test, cost=e.cost)
    if e.kind == "test_reported":
        return _make(e, "measurement", "test_result", e.result, test=e.test, available=e.available)
    if e.kind == "tool_called":
        return _make(e, "doctor", "tool_call", e.tool, tool=e.tool, arguments=e.arguments)
    if e.kind == "tool_returned":
        return _make(e, "tool", "tool_result", e.result, tool=e.tool, error=e.error, data=e.data)
    if e.kind == "image_shown":
        text = e.image_id + (f" ({e.modality})" if e.modality else "")
        return _make(e, "system", "image", text).model_copy(update={"images": [e.image_id]})
    if e.kind == "diagnosis_submitted":
        return _make(e, "doctor", "diagnosis", e.diagnosis, differential=e.differential)
    return None


def _record(e: Event) -> TranscriptEntry:
    """The episode's frame: start, verdicts, rejected or repaired replies, model calls, end."""
    if e.kind == "episode_started":
        text = f"{e.scenario_id} seed={e.seed} max_turns={e.max_turns}"
        return _make(e, "system", "start", text, agents=e.agents)
    if e.kind == "diagnosis_judged":
        mark = "correct" if e.match else "incorrect"
        text = f"{mark} ({e.judge}): {e.reason}"
        return _make(e, "judge", "verdict", text, judge=e.judge, correct=e.match)
    if e.kind == "doctor_reply_rejected":
        return _make(e, "system", "rejected", f"{e.error}: {e.reply}")
    if e.kind == "patient_leak_blocked":
        text = f"patient reply withheld (it named the diagnosis): {e.reply}"
        return _make(e, "system", "rejected", text)
    if e.kind == "doctor_reply_repaired":
        text = "reply read after: " + "; ".join(e.repairs)
        return _make(e, "system", "note", text, repairs=list(e.repairs))
    if e.kind == "model_called":
        return _model_call(e)
    if e.kind == "episode_ended":
        text = e.reason + (f": {e.detail}" if e.detail else "")
        return _make(e, "system", "end", text, reason=str(e.reason))
    return _make(e, "system", "note", e.model_dump_json(exclude={"at"}))


def _model_call(e: ModelCalled) -> TranscriptEntry:
    actor = cast(Actor, e.role) if e.role in ACTORS else "system"
    prompt = str(e.messages[-1].get("content", "")) if e.messages else ""
    data: dict[str, object] = {
        "role": e.role,
        "model": e.model,
        "tokens": sum(e.usage.values()),
        "latency_s": round(e.latency_s, 3),
        "prompt": prompt[-PROMPT_CHARS:],
        "messages": len(e.messages),
    }
    if e.error:
        data["error"] = e.error
    return TranscriptEntry.model_validate(
        {"turn": e.turn, "actor": actor, "kind": "model_call", "text": e.output, "data": data}
    )


def image_asset(path: Path, caption: str = "", max_side: int = 512) -> ImageAsset:
    """An image file as a data: URI, shrunk to at most `max_side` pixels a side (JPEG or PNG)."""
    try:
        with Image.open(path) as img:
            img.load()
            if max(img.size) <= max_side and img.format in ("PNG", "JPEG"):
                mime = mimetypes.guess_type(path.name)[0] or f"image/{img.format.lower()}"
                raw = path.read_bytes()
            else:
                img.thumbnail((max_side, max_side))
                keep = img.mode in ("L", "RGB")
                fmt = "JPEG" if keep else "PNG"
                buf = io.BytesIO()
                (img if keep or fmt == "PNG" else img.convert("RGB")).save(buf, format=fmt)
                raw, mime = buf.getvalue(), f"image/{fmt.lower()}"
    except OSError as exc:
        raise ValueError(f"{path}: not a readable image: {exc}") from None
    encoded = base64.b64encode(raw).decode()
    return ImageAsset(src=f"data:{mime};base64,{encoded}", caption=caption or path.name)
