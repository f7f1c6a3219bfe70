"""The LLM doctor: each turn, a prompt rebuilt from the `DoctorView`, one model reply, one typed
action through the run's protocol. An unparseable reply gets a bounded number of repair
prompts (each rejection recorded as `DoctorReplyRejected` next to its `ModelCalled`); after the
last one the turn fails with `RoleFailure(PROTOCOL_ERROR)`. A reply read leniently (code fence,
trailing comma, thinking span, ...) is recorded as `DoctorReplyRepaired` with what was fixed. A
failed model call raises `RoleFailure(MODEL_ERROR)`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from clinsim.agents.llm.doctor_prompts import (
    IMAGE_TOOL,
    DoctorPrompts,
    RenderedHistory,
    doctor_messages,
    repair_messages,
    tool_names,
)
from clinsim.agents.llm.parsing import Protocol, ReplyParseError, read_reply
from clinsim.agents.llm.recording import RecordedModel
from clinsim.agents.models.base import ChatModel, ChatRequest
from clinsim.agents.models.text_tools import tool_instructions
from clinsim.agents.prompts import RolePrompts
from clinsim.environments.actions import Action, CallTool
from clinsim.environments.context import record
from clinsim.environments.events import DoctorReplyRejected, DoctorReplyRepaired
from clinsim.environments.roles import DoctorView, RoleFailure
from clinsim.environments.termination import TerminationReason
from clinsim.scenarios.model import ImageRef

ROLE = "doctor"


def image_request(view: DoctorView, images: Mapping[str, ImageRef]) -> CallTool | None:
    """What AgentClinic's `REQUEST IMAGES` becomes: reading the case's first image, when
    `read_image` is offered and the case has images."""
    specs = [s for s in view.tools if s.name == IMAGE_TOOL]
    if not specs or not images:
        return None
    properties = list(specs[0].arguments.model_fields)
    required = list(specs[0].required)
    if "image_id" in properties or not (required or properties):
        key = "image_id"
    else:
        key = (required or properties)[0]
    return CallTool(tool=IMAGE_TOOL, arguments={key: next(iter(images))})


class LLMDoctor:
    """Implements `clinsim.environments.roles.Doctor` with a chat model.

    `images` are the case's images (id -> ref; never the answer key): the ones the doctor is
    shown are attached as local files when `multimodal` and the file exists. `prompts`: the
    doctor's templates for `protocol` (default: the bundled ones). Calls are numbered per
    episode: `<episode>:doctor:<n>`, n = 0, 1, ... including repairs.
    """

    def __init__(
        self,
        model: ChatModel,
        protocol: Protocol = "json",
        bias: str | None = None,
        images: Mapping[str, ImageRef] | None = None,
        multimodal: bool = True,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int | None = None,
        repair_attempts: int = 2,
        prompts: RolePrompts | None = None,
    ):
        self.model = RecordedModel(model, ROLE)
        self.protocol: Protocol = protocol
        self.prompts = (
            DoctorPrompts(protocol, prompts) if prompts else DoctorPrompts.bundled(protocol)
        )
        self.bias = bias
        self.images = dict(images or {})
        self.multimodal = multimodal
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.repair_attempts = repair_attempts
        self._rendered: RenderedHistory = {}  # one doctor plays one episode

    def attachable(self, view: DoctorView) -> dict[str, str]:
        """Image id -> local file for every image this doctor may be sent."""
        if not self.multimodal:
            return {}
        refs = {**self.images, **{i.id: i for i in view.images}}
        return {
            image_id: ref.path
            for image_id, ref in refs.items()
            if ref.path is not None and Path(ref.path).is_file()
        }

    def _request(self, view: DoctorView) -> ChatRequest:
        attached = self.attachable(view)
        messages = doctor_messages(
            view, self.protocol, self.bias, attached, self.prompts, self._rendered
        )
        tools = list(view.tools) if self.protocol == "tools" else None
        instructions = None
        if tools:
            instructions = tool_instructions(tools, self.prompts.templates.template("tool_code"))
        return ChatRequest(
            messages=messages,
            tools=tools,
            tool_instructions=instructions,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )

    async def act(self, view: DoctorView) -> Action:
        request = self._request(view)
        offered = tool_names(view.tools)
        images = image_request(view, self.images)
        error = ""
        for _attempt in range(self.repair_attempts + 1):
            response = await self.model.chat(request)
            try:
                parsed = read_reply(
                    self.protocol, response.text, response.tool_calls, offered, images
                )
            except ReplyParseError as exc:
                error = str(exc)
                calls = [c.model_dump(mode="json") for c in response.tool_calls]
                record(DoctorReplyRejected(reply=response.text or json.dumps(calls), error=error))
                extra = repair_messages(
                    response.text, response.tool_calls, error, view, self.prompts
                )
                request = request.model_copy(update={"messages": [*request.messages, *extra]})
                continue
            if parsed.repairs:
                record(DoctorReplyRepaired(repairs=list(parsed.repairs)))
            return parsed.action
        detail = f"no usable {self.protocol} reply after {self.repair_attempts} repairs: {error}"
        raise RoleFailure(TerminationReason.PROTOCOL_ERROR, detail)
