"""Why an episode ended. Every episode ends with exactly one of these."""

from __future__ import annotations

from enum import StrEnum


class TerminationReason(StrEnum):
    DIAGNOSED = "diagnosed"
    TURN_LIMIT = "turn_limit"
    BUDGET_EXHAUSTED = "budget_exhausted"
    PROTOCOL_ERROR = "protocol_error"
    MODEL_ERROR = "model_error"
    TOOL_ERROR = "tool_error"
    INTERNAL_ERROR = "internal_error"
    """A bug in clinsim or a plugin; the run goes on and the episode records the error."""
