"""The refusals of every Action of the reference M-Instance (instance/world/actions, MMM-TEC V2.2
Actions): each case of action_refusals.REFUSALS is Error with the PA Status error code the Action
must carry, and leaves the World unchanged."""

from __future__ import annotations

import pytest
from action_helpers import Engine, Users, refused
from action_refusals import REFUSALS


# Refusals of every Action
@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals(engine: Engine, users: Users, case: str) -> None:
    """Each refusal listed above (Action: case) is Error with the code the Action must carry, and
    the World does not change."""
    build, error = REFUSALS[case]
    refused(engine, build(engine, *users), error)
