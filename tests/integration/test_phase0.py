"""The phase 0 use case (issue "MMM-TEC core", item 6) end to end over real gRPC and mTLS: every
step answers the PA Status the use case expects, and Activity Data shows every step."""

from __future__ import annotations

import json
import time

from rich.console import Console
from sample_assets import FOX, GODETTE, needs_samples

from instance.world.model import ProcessActionRequest, ProcessActionResponse
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.cli.inprocess import Federation
from mmmfed.cli.phase0 import StepResult, run_phase0
from mmmfed.cli.scenario_cmd import activity_table, step_table

pytestmark = needs_samples


def _sender(federation: Federation):  # type: ignore[no-untyped-def]
    assert federation.at_a is not None and federation.at_b is not None
    stubs = {"a.example": federation.at_a.instance, "b.example": federation.at_b.instance}

    async def send(m_instance_id: str, request: ProcessActionRequest) -> ProcessActionResponse:
        reply = await stubs[m_instance_id].Act(ipb.ActRequest(request=request_to_proto(request)))
        return response_from_proto(reply)

    return send


def _failures(results: list[StepResult]) -> list[str]:
    return [
        f"{r.title}: expected {r.expected}, got {r.response.status.kind.value} "
        f"{r.response.status.error.value if r.response.status.error else ''} {r.response.status.reason}"
        for r in results
        if not r.ok
    ]


async def _activity(federation: Federation, m_instance_id: str, **query: object) -> list[dict[str, object]]:
    client = federation.at_a if m_instance_id == "a.example" else federation.at_b
    assert client is not None
    reply = await client.instance.QueryActivity(ipb.QueryActivityRequest(**query))  # type: ignore[arg-type]
    return [json.loads(raw) for raw in reply.records_json]


async def test_phase0_in_one_m_instance(federation: Federation) -> None:
    """Registration, presence, parcel and room by Rights transfer, invitation, entering, leaving,
    and InsRights on re-entering after the Right is withdrawn; each step is in Activity Data."""
    results = await run_phase0(
        _sender(federation),
        a="a.example",
        b=None,
        avatars=(GODETTE, FOX),
        tag="local",
        start_ms=int(time.time() * 1000),
    )
    assert _failures(results) == []
    assert results[-1].response.status.error is not None and results[-1].response.status.error.value == "InsRights"
    records = await _activity(federation, "a.example")
    recorded = {r["ProcessActionID"]: r["PAStatus"] for r in records}
    for step in results:
        assert step.request.process_action_id in recorded, step.title
    assert recorded[results[-1].request.process_action_id]["ErrorCode"] == "InsRights"
    console = Console(width=80, record=True, color_system=None)  # what `scenario phase0` prints at 80 columns
    console.print(step_table(results))
    console.print(activity_table(records, "a.example"))
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    for r in records:  # each Process named whole on a line of its own row
        name = str(r["DestinationProcessID"]).removeprefix("mmm://a.example/processes/")
        assert any(line.strip("│ ").startswith(name) for line in lines), name
    room = await _activity(federation, "a.example", item_id="mmm://a.example/locations/room-1")
    assert [r["Action"] for r in room] == [
        "Rights Manage",
        "MM-Add",
        "MM-Move",
        "Rights Manage",
        "MM-Move",
        "MM-Move",
        "Rights Manage",
        "MM-Move",
    ]


async def test_phase0_federated(federation: Federation) -> None:
    """User2 lives in b.example: the presence query is priced for a foreign Process (Request,
    Transact, retry), messages and User2's Persona travel through both gateways, and the refusal
    after the Right is withdrawn comes back from a.example as InsRights."""
    assert federation.at_a is not None
    await federation.at_a.negotiate("b.example")
    results = await run_phase0(
        _sender(federation),
        a="a.example",
        b="b.example",
        avatars=(GODETTE, FOX),
        tag="fed",
        start_ms=int(time.time() * 1000),
    )
    assert _failures(results) == []
    kinds = [r.response.status.kind.value for r in results]
    assert "Request" in kinds
    at_b = await _activity(federation, "b.example")
    assert any(r["SourceProcessID"] == "mmm://a.example/processes/user1-fed" for r in at_b)
    entered = next(r for r in results if r.title.startswith("User2 enters"))
    at_a = await _activity(federation, "a.example", item_id="mmm://b.example/personae/user2-fed")
    assert any(
        r["ProcessActionID"] == entered.request.process_action_id and r["PAStatus"]["Status"] == "Ack" for r in at_a
    )
