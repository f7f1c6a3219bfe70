"""Every test runs with LangGraph's strict checkpoint deserialisation, the default it announces
for a future version: a class of the encounter state that is not registered with the
checkpointer's serializer fails the tests instead of printing a warning."""

from __future__ import annotations

import os

os.environ["LANGGRAPH_STRICT_MSGPACK"] = "true"
