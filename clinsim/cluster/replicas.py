"""In-process models (`hf/...`) on a cluster: replicas that hold the weights, shared by players.

A model that runs inside the process (`IN_PROCESS` providers) is loaded once per replica, a Ray
actor reserving `tensor_parallel` GPUs (`--model-option tensor_parallel=N`; none on a machine
without GPUs), and reused by every episode. Each distinct model of a run (address and settings)
gets `replica_count` replicas: one per GPU, or per group of `tensor_parallel` GPUs.

The driver routes each episode to one replica (`ROUTE`, set in the episode's task), so all the
calls of an episode go to the same replica and its prefix cache keeps the conversation's
beginning. Players reach it through `ReplicaModel`, the `ChatModel` that `RoutedPool` hands the
roles in place of a local copy.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from clinsim.agents.models.base import ChatModel, ChatRequest, ChatResponse
from clinsim.agents.models.registry import ModelPool, config_key, load_model
from clinsim.components import Plan, Player
from clinsim.environments.factories import split_address

IN_PROCESS = frozenset({"hf"})
"""Providers whose models run inside the process that asks them."""

ROUTE: ContextVar[int] = ContextVar("clinsim_replica_route", default=0)
"""Which replica the episode being played uses (the driver chooses it)."""

ModelKey = tuple[str, str]
"""(address, configuration key) of one model of a run."""


@dataclass(frozen=True)
class ModelSpec:
    """A model of the run that runs in-process: where it is and how it is configured."""

    address: str
    config: BaseModel

    @property
    def key(self) -> ModelKey:
        return (self.address, config_key(self.config))

    @property
    def gpus(self) -> int:
        """GPUs one replica spans (`tensor_parallel`, 1 by default)."""
        value = getattr(self.config, "tensor_parallel", 1)
        return value if isinstance(value, int) and value > 0 else 1


def in_process_models(plan: Plan) -> list[ModelSpec]:
    """The distinct in-process models the plan's roles are played by."""
    players: list[Player[Any]] = [plan.doctor, plan.patient, plan.measurement, *plan.judges]
    found: dict[ModelKey, ModelSpec] = {}
    for player in players:
        if player.backend is None or split_address(player.address)[0] not in IN_PROCESS:
            continue
        spec = ModelSpec(player.address, player.backend.config)
        found.setdefault(spec.key, spec)
    return list(found.values())


def replica_count(spec: ModelSpec, gpus: float, models: int) -> int:
    """Replicas of one of `models` in-process models on a cluster with `gpus` GPUs: one per
    `spec.gpus` of its share; one (on CPU) where there are none."""
    share = int(gpus // max(1, models))
    return max(1, share // spec.gpus)


class ModelReplica:
    """One copy of an in-process model (a Ray actor; see `clinsim.cluster.executor`)."""

    def __init__(self, address: str, config: BaseModel):
        self.model = load_model(address, config)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await self.model.chat(request)

    def accepts_images(self) -> bool | None:
        value = getattr(self.model, "accepts_images", None)
        return value if isinstance(value, bool) else None


class ReplicaModel:
    """A `ChatModel` whose calls go to the episode's replica of the model."""

    def __init__(self, address: str, replicas: list[Any], accepts_images: bool | None):
        self.address = address
        self.replicas = replicas
        if accepts_images is not None:
            self.accepts_images = accepts_images

    async def chat(self, request: ChatRequest) -> ChatResponse:
        replica = self.replicas[ROUTE.get() % len(self.replicas)]
        response: ChatResponse = await replica.chat.remote(request)
        return response


class RoutedPool(ModelPool):
    """The models of a player: in-process ones through their replicas, the rest as usual."""

    def __init__(self, replicas: dict[ModelKey, list[Any]], images: dict[ModelKey, bool | None]):
        super().__init__()
        self.replicas, self.images = replicas, images

    def get(self, address: str, config: BaseModel | None = None) -> ChatModel:
        key = (address, config_key(config))
        if key in self.replicas:
            return ReplicaModel(address, self.replicas[key], self.images.get(key))
        return super().get(address, config)
