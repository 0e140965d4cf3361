"""Shared helpers for the tests of the Process Action engine's pipeline (instance/world/engine.py,
MMM-TEC V2.2 Inter-Process Protocol): the request time ``T`` and a well-formed request u1 may
make."""

from __future__ import annotations

from mmm_helpers import SQUARE, START_MS, register, req

from instance.world.engine import ProcessActionEngine
from instance.world.model import Action, ProcessActionRequest

T = START_MS + 100


def placing(engine: ProcessActionEngine) -> ProcessActionRequest:
    """A well-formed request u1 is allowed to make: place its Persona at the MM-Square."""
    u1 = register(engine, "u1")
    return req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T)
