"""AgentClinic's biases by name, or a bias of the user's own words.

The named biases are the blocks of the role's bias template (`doctor.bias`, `patient.bias`;
bundled: after AgentClinic's bias prompts, which steer towards cancer), one `{% block NAME %}`
each. Bundled doctor biases (12): recency, frequency, false_consensus, confirmation, status_quo
and the seven implicit ones (gender, race, sexual_orientation, cultural, religion,
socioeconomic, education). Patient (11): recency, frequency, false_consensus, self_diagnosis and
the same seven implicit ones. The text is appended to the role's system prompt.

`resolve_bias(role, value, template)` reads `--doctor-bias` / `--patient-bias`:

- empty, None or "none": no bias;
- a known name (case, spaces and hyphens ignored: "False-consensus" is `false_consensus`):
  that bias's text;
- a single word that is not a known name ("recency2", "confirmation" for the patient): an
  error listing the role's names, since it is most likely a misspelt name;
- anything else (text with spaces): used as the bias text itself.
"""

from __future__ import annotations

import re
from typing import Literal

from clinsim.agents.prompts.templates import Template, bundled_template

BiasRole = Literal["doctor", "patient"]
_ONE_WORD = re.compile(r"^[A-Za-z][\w\-]*$")


class UnknownBias(ValueError):
    """A bias given as a name that the role does not know."""


def bias_key(value: str) -> str:
    return re.sub(r"[\s\-]+", "_", value.strip().lower())


def _template(role: BiasRole, template: Template | None) -> Template:
    return template or bundled_template(f"{role}.bias", None)


def bias_texts(role: BiasRole, template: Template | None = None) -> dict[str, str]:
    """Every named bias of the role's bias template (default: the bundled one), by name."""
    chosen = _template(role, template)
    return {name: chosen.render_block(name) for name in chosen.block_names()}


def resolve_bias(role: BiasRole, value: str | None, template: Template | None = None) -> str | None:
    """The bias text for `value` (a name or free text), or None for no bias."""
    if value is None or not value.strip() or value.strip().lower() == "none":
        return None
    chosen = _template(role, template)
    key = bias_key(value)
    if key in chosen.block_names():
        return chosen.render_block(key)
    if _ONE_WORD.match(value.strip()):
        names = ", ".join(chosen.block_names())
        other: BiasRole = "patient" if role == "doctor" else "doctor"
        hint = f" ({key!r} is a {other} bias)" if key in bias_texts(other) else ""
        raise UnknownBias(
            f"unknown {role} bias {value!r}{hint}; known {role} biases: {names}. "
            "Text with spaces is used as a bias of your own."
        )
    return value.strip()
