"""Python-style calls written as text, as Gemma models write them: a ```` ```tool_code ````
block holding `order_test(test="CBC")`, the bracketed list `[order_test(test="CBC")]` of
Google's Gemma function-calling prompt, or a reply that is nothing but such a call.

Calls are read with `ast`, never evaluated: the callee must be a plain name (a
`default_api.`-style prefix is dropped, a `print(...)` wrapper is unwrapped) and every argument
a literal (`ast.literal_eval`: strings, numbers, booleans, None, lists, dicts). Anything else
is rejected with a message saying what to write instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from typing import Any

from clinsim.agents.llm.parsing.actions import (
    CORE_ACTIONS,
    PRIMARY_FIELD,
    ReplyParseError,
    json_value,
    normalise_name,
)

Call = tuple[str, dict[str, Any]]

_FENCE = re.compile(r"```[ \t]*([\w-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_CODE_FENCES = ("tool_code", "python", "py", "tool_call", "")


def _literal(node: ast.expr, where: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ReplyParseError(
            f"{where} must be a literal value (a quoted string, number, list, True/False/None),"
            f" not an expression: {ast.unparse(node)[:80]}"
        ) from exc
    return json_value(value, where)


def _callee(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr  # default_api.order_test(...), functions.order_test(...)
    raise ReplyParseError(
        f"only calls of the offered tools by name can be read, not {ast.unparse(func)[:80]}"
    )


def _call(node: ast.Call, offered: Collection[str]) -> Call:
    name = _callee(node.func)
    if name == "print" and len(node.args) == 1 and isinstance(node.args[0], ast.Call):
        return _call(node.args[0], offered)
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ReplyParseError(f"{name}: write each argument as name=value, not **mapping")
        arguments[keyword.arg] = _literal(keyword.value, f"{name}: argument {keyword.arg!r}")
    if node.args:
        tool = normalise_name(name, offered)
        if tool not in CORE_ACTIONS or len(node.args) > 1 or PRIMARY_FIELD[tool] in arguments:
            raise ReplyParseError(f"{name}: write the arguments as name=value")
        arguments[PRIMARY_FIELD[tool]] = _literal(node.args[0], f"{name}: its argument")
    return name, arguments


def _expression_calls(node: ast.expr, offered: Collection[str]) -> list[Call] | None:
    """The calls of one expression: a call, or a list/tuple of calls; None for anything else."""
    if isinstance(node, ast.Call):
        return [_call(node, offered)]
    items = node.elts if isinstance(node, ast.List | ast.Tuple) else []
    calls = [item for item in items if isinstance(item, ast.Call)]
    if calls and len(calls) == len(items):
        return [_call(item, offered) for item in calls]
    return None


def code_calls(code: str, offered: Collection[str]) -> list[Call] | None:
    """The calls of a block of code (one call per line, or a list of calls); None when the
    code is not calls at all. Raises `ReplyParseError` for calls that cannot be read."""
    try:
        module = ast.parse(code.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    calls: list[Call] = []
    for statement in module.body:
        if not isinstance(statement, ast.Expr):
            return None
        found = _expression_calls(statement.value, offered)
        if found is None:
            return None
        calls += found
    return calls


def _loose_lines(text: str, offered: Collection[str]) -> tuple[list[Call], str]:
    """Calls standing alone on a line amid prose (a line that is a call and nothing else),
    and the other lines."""
    calls: list[Call] = []
    rest: list[str] = []
    for line in text.splitlines():
        code = line.strip().strip("`").strip()
        try:
            found = code_calls(code, offered) if "(" in code else None
        except ReplyParseError:
            found = None  # prose that happens to parse, e.g. "Fever(38.5)"
        if found:
            calls += found
        else:
            rest.append(line)
    return calls, "\n".join(rest)


def text_calls(text: str, offered: Collection[str], repairs: list[str]) -> tuple[list[Call], str]:
    """Every Python-style call in a reply, and the text left around them (where JSON calls may
    still be): from code fences and lines that hold a call alone, or from the whole reply when
    it is nothing but calls. A ```` ```tool_code ```` block that is not readable calls raises
    `ReplyParseError` (it was meant as a call)."""
    calls: list[Call] = []
    for match in _FENCE.finditer(text):
        language, code = match.group(1).lower(), match.group(2)
        if language not in _CODE_FENCES or not code.strip():
            continue
        found = code_calls(code, offered)
        if found is None and language == "tool_code":
            raise ReplyParseError(
                "the tool_code block is not a complete call; write one call such as "
                'order_test(test="Complete blood count")'
            )
        if found:
            calls += found
            text = text.replace(match.group(0), " ", 1)
    if calls:
        repairs.append("call read from a code block")
    else:
        outside = _FENCE.sub(" ", text).strip()
        whole = code_calls(outside.strip("`"), offered) if outside else None
        if whole:
            repairs.append("call written as text")
            return whole, ""
    loose, rest = _loose_lines(text, offered)
    if loose:
        repairs.append("call written as text among prose")
    return calls + loose, rest
