"""The checkpointer of encounters that pause for a person (`human` roles).

LangGraph stores the encounter state between a pause and its resumption with msgpack, and
rebuilds the classes it holds (events, actions, exchanges, the termination reason) only when
they are registered with its serializer: an unregistered class is rebuilt with a warning today
and refused under `LANGGRAPH_STRICT_MSGPACK=true` (the future default). Every class the state
can hold is found from `EncounterState`'s type hints and registered, so both modes rebuild the
same state silently.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel
from typing_extensions import is_typeddict

from clinsim.environments.encounter import EncounterState

Registered = tuple[str, str]
"""(module, class name), as the serializer's allowlist takes them."""


def _inner(typ: Any) -> list[Any]:
    """The types a type annotation is made of (union members, item types, field types)."""
    origin = get_origin(typ)
    if origin is Annotated:
        return [get_args(typ)[0]]
    if origin is Literal:
        return []
    if origin is Union or isinstance(typ, types.UnionType) or origin is not None:
        return list(get_args(typ))
    if hasattr(typ, "__value__"):  # a type alias (pydantic's JsonValue)
        return [typ.__value__]
    if is_typeddict(typ) or dataclasses.is_dataclass(typ):
        return list(get_type_hints(typ, include_extras=True).values())
    if isinstance(typ, type) and issubclass(typ, BaseModel):
        return [field.annotation for field in typ.model_fields.values()]
    return []


def _registrable(typ: Any) -> bool:
    if not isinstance(typ, type) or is_typeddict(typ):
        return False
    return issubclass(typ, BaseModel | enum.Enum) or dataclasses.is_dataclass(typ)


def state_types(schema: Any = EncounterState) -> set[Registered]:
    """Every class the state can hold, found through its type hints."""
    found: set[Registered] = set()
    seen: set[int] = set()
    todo = [schema]
    while todo:
        typ = todo.pop()
        if id(typ) in seen:
            continue
        seen.add(id(typ))
        if _registrable(typ):
            found.add((typ.__module__, typ.__qualname__))
        todo.extend(_inner(typ))
    return found


def encounter_checkpointer() -> InMemorySaver:
    """An in-memory checkpointer whose serializer knows every class of the encounter state."""
    allowed = sorted(state_types())
    return InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=allowed))
