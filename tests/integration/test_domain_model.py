"""One model of the M-Instance (issue 14): what the convenience RPCs create is what the MMM-TEC
World's Process Action engine knows."""

from __future__ import annotations

import time

from conftest import GODETTE, needs_samples

from instance.world.model import Action, DeonticVerb, PAStatusKind, ProcessActionRequest, complements
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.testing import Federation

A = "a.example"


@needs_samples
async def test_fgmv43_9_1_registered_human_is_a_process(federation: Federation) -> None:
    """FGMV-43 9.1 step 0 / MMM-TEC Register: a human registered with RegisterHuman is at once the
    source of a Process Action the engine decides (Ack, not Error IncID)."""
    user = (await federation.at_a.register_human("alice", GODETTE)).user_process_id
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.AUTHENTICATE,
        user,
        f"mmm://{A}/processes/registration",
        complements(nil=user),
        int(time.time() * 1000),
        process_action_id=f"mmm://{A}/pa/domain-model-1",
    )
    reply = await federation.at_a.instance.Act(ipb.ActRequest(request=request_to_proto(request)))
    response = response_from_proto(reply)
    assert response.status.kind is PAStatusKind.ACK, response.status
    assert [c.ref_id for c in response.complements] == [user]
