"""Fixtures shared by the unit tests (helpers that are not fixtures are in mmm_helpers.py and the
other support modules next to this file)."""

from __future__ import annotations

import pytest
from mmm_helpers import User, make_engine, register

from instance.world.engine import ProcessActionEngine


@pytest.fixture
def engine() -> ProcessActionEngine:
    """A fresh seeded World of a.example (Profile FINANCE) and its Process Action engine, Activity
    Data in memory (mmm_helpers.make_engine)."""
    return make_engine()


@pytest.fixture
def users(engine: ProcessActionEngine) -> tuple[User, User]:
    """u1 and u2 registered in the ``engine`` World (mmm_helpers.register)."""
    return register(engine, "u1"), register(engine, "u2")
