"""Reading hedged free text: which diagnoses a note names, and in which order.

"Most likely X; Y less likely", "X, rule out Y", "X vs Y", "1. X 2. Y", "Probable X. Ddx: Y, Z"
all lead with X. Names a note demotes ("Y less likely", "unlikely Y") keep their order after
the ones it does not. Commas split a list only after a differential label ("Ddx:",
"Differential:"), because commas also sit inside names ("Atrial fibrillation, paroxysmal").
"""

from __future__ import annotations

import re

_LABEL = (
    r"(?:final|working|leading|primary|provisional|clinical|most\s+likely|likely|differential)?"
    r"\s*(?:diagnosis|diagnoses|dx|impression|assessment|ddx|differentials?|differential"
    r"\s+diagnosis)"
)
_LABEL_START = re.compile(rf"^\s*(?:the\s+)?{_LABEL}\s*(?:is|are|includes?)?\s*[:\-]?\s*", re.I)
_LIST_LABEL = re.compile(r"^\s*(?:ddx|differentials?(?:\s+diagnos[ie]s)?)\b", re.I)
_NUMBERED = re.compile(r"(?:^|\s)\(?\d{1,2}[.)]\s+")
_SENTENCE = re.compile(r"(?<=[a-z0-9)\]]{2})\.\s+(?=[A-Z(])")
_RULE_OUT = re.compile(r",?\s*\b(?:rule\s+out|r/o|ruling\s+out|to\s+exclude)\b\s*:?\s*", re.I)
_VERSUS = re.compile(r"\s+(?:vs\.?|versus|v\.)\s+", re.I)
_LEADING_HEDGE = re.compile(
    r"^\s*(?:(?:is|are)\s+)?(?:most\s+likely|more\s+likely|likely|probably|probable|possible|"
    r"possibly|presumed|presumptive|suspected|suspect|suspicion\s+of|favou?r(?:ing|s)?|consider|"
    r"considering|suggestive\s+of|consistent\s+with|concerning\s+for|c/w|impression)\b"
    r"\s*(?:diagnosis\s*)?[:\-]?\s*",
    re.I,
)
_TRAILING_HEDGE = re.compile(
    r"(?:\s+|\s*[,(]\s*)(?:is\s+)?(?:the\s+)?(?:most\s+likely|more\s+likely|likely|probable|"
    r"favou?red|suspected)(?:\s+diagnosis)?\s*\)?\s*$",
    re.I,
)
_DEMOTED_BEFORE = re.compile(r"^\s*(?:less\s+likely|unlikely|doubt(?:ful)?|not\s+likely)\b", re.I)
_DEMOTED_AFTER = re.compile(
    r"(?:\s+|\s*[,(]\s*)(?:is\s+|are\s+|seems\s+)?(?:less\s+likely|unlikely|much\s+less\s+"
    r"likely|possible\s+but\s+less\s+likely|considered|also\s+possible|not\s+excluded)\s*\)?\s*$",
    re.I,
)
_DEMOTED_TAIL = re.compile(
    r"(?:\s+|\s*[,(]\s*)(?:is\s+|are\s+|seems\s+)?(?:less\s+likely|unlikely|much\s+less\s+"
    r"likely|possible\s+but\s+less\s+likely|considered|also\s+possible|not\s+excluded)\b",
    re.I,
)
_GRAFT_VERSUS_HOST = re.compile(r"graft\s+versus\s+host", re.I)
_EDGE = " \t\n.;:,-–—"


def _strip_label(text: str) -> tuple[str, bool]:
    """Text without a leading 'Diagnosis:'/'Ddx:' label; True when the label opens a list."""
    is_list = bool(_LIST_LABEL.match(text))
    return _LABEL_START.sub("", text, count=1), is_list


def _clean(name: str) -> tuple[str, bool]:
    """A candidate without hedging words; True when the text demotes it ('less likely')."""
    demoted = bool(_DEMOTED_BEFORE.match(name) or _DEMOTED_AFTER.search(name))
    name = re.sub(_DEMOTED_BEFORE, "", name)
    name = _DEMOTED_TAIL.split(name, maxsplit=1)[0]
    for _ in range(2):
        name = _LEADING_HEDGE.sub("", name, count=1)
        name = _TRAILING_HEDGE.sub("", name)
    name = name.strip(_EDGE)
    if name.endswith(")") and "(" not in name:
        name = name[:-1].strip(_EDGE)
    return name, demoted


def _pieces(text: str) -> list[str]:
    """Split on numbering, semicolons, new lines and sentence ends, in order."""
    parts: list[str] = []
    for line in re.split(r"[;\n]+", text):
        for sentence in _SENTENCE.split(line):
            numbered = [p for p in _NUMBERED.split(sentence) if p.strip(_EDGE)]
            parts.extend(numbered or [sentence])
    return [p for p in parts if p.strip(_EDGE)]


def _alternatives(piece: str) -> list[str]:
    """'X, rule out Y' and 'X vs Y' -> [X, Y]; a differential list splits on commas."""
    piece, is_list = _strip_label(piece)
    out: list[str] = []
    for part in _RULE_OUT.split(piece):
        if _GRAFT_VERSUS_HOST.search(part):
            out.append(part)
            continue
        for option in _VERSUS.split(part):
            out.extend(re.split(r",\s*|\s+and\s+", option) if is_list else [option])
    return out


def candidates(text: str) -> list[str]:
    """The diagnoses a free-text answer names, leading one first (empty names dropped)."""
    leading: list[str] = []
    demoted: list[str] = []
    for piece in _pieces(text):
        for raw in _alternatives(piece):
            name, less = _clean(raw)
            if name and name.lower() not in (c.lower() for c in leading + demoted):
                (demoted if less else leading).append(name)
    return leading + demoted or [text.strip()]
