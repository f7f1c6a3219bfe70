"""A person plays a role at the terminal: show the role's prompt, read the reply."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.prompt import Prompt
from rich.text import Text


def terminal_responder(console: Console) -> Any:
    async def respond(prompt: dict[str, Any]) -> str:
        role = prompt.get("role", "?")
        title = f"{role}"
        if role == "doctor":
            title += f" - turn {prompt.get('turn')} ({prompt.get('turns_left')} left)"
            tools = ", ".join(prompt.get("tools", []))
            console.print(Text(f"{prompt.get('help', '')}\ntools: {tools}", style="dim"))
        console.print(Panel(Text(str(prompt.get("text", ""))), title=Text(title)))
        reply: str = await asyncio.to_thread(Prompt.ask, f"[bold]{role}[/]", console=console)
        return reply

    return respond
