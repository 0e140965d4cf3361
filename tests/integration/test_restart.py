"""The reference M-Instance keeps its state across restarts (embedded SQLite store)."""

from __future__ import annotations

from pathlib import Path

from sample_assets import GODETTE, needs_samples

from instance.node import InstanceNode
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.cli.inprocess import start_federation
from mmmfed.items import domain_doc

pytestmark = needs_samples


async def test_registered_avatar_survives_an_instance_restart(tmp_path: Path) -> None:
    """A human registered before instance a.example restarts can still migrate afterwards."""
    fed = await start_federation(tmp_path)
    try:
        reg = await fed.at_a.register_human("godette", GODETTE)
        await fed.nodes["instance-a"].stop()
        restarted = InstanceNode(fed.plan.instance_a)
        fed.nodes["instance-a"] = restarted
        await restarted.start()
        await restarted.register_manifesto()

        await fed.at_a.negotiate("b.example")
        result = await fed.at_a.migrate(reg.user_process_id, "b.example")
        assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, result.refusal_message
        exported = domain_doc(result.home_persona.item_json)
        assert {k: v for k, v in exported.items() if k != "proof"} == domain_doc(reg.persona.item_json)
    finally:
        await fed.stop()
