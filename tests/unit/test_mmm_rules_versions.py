"""Rules versions of the reference M-Instance (instance/world: rulebook.py, engine.py; MMM-TEC V2.2
Rules): a new version's Rules (MaxMessageChars, ForeignProcessActions, MaxPlacementsPerProcess) take
effect at its Effective Time; only the change procedure Process changes the Rules, with notice, a
new version and a later Effective Time."""

from __future__ import annotations

from mmm_helpers import (
    MANAGER,
    RESOLUTION,
    RULES_ID,
    SQUARE,
    assert_error,
    author,
    code,
    message,
    model_draft,
    register,
    req,
    snapshot,
)
from rules_rights_helpers import VISITOR, E, T, change_rules, codes, put, report

from instance.world.engine import ProcessActionEngine
from instance.world.model import Action, PAErrorCode, PAStatusKind
from instance.world.seed import FOREIGN_ACTIONS, rules_item

# 2. Rules versions


def test_a_lower_max_message_chars_takes_effect_at_its_effective_time(engine: ProcessActionEngine) -> None:
    """The manager's Rules change (v2: at most 10 characters) is Ack and changes nothing before its
    Effective Time: a 40-character MM-Send at E-1 is Ack under v1; at E it is IncDQ with a Fault
    Behaviour Report naming v2 and changes nothing; the Activity Data says which version decided."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    long_note = message("long", "x" * 40, producer=u1.id)
    author(engine, u1.id, long_note)
    assert code(change_rules(engine, "v2", E, MaxMessageChars=10)) == "Ack"
    assert [v.version_id for v in engine.world.rules.versions] == ["v1", "v2"]
    assert engine.world.rules.in_force(E - 1).version_id == "v1"
    send = req(u1.id, u2.id, Action.MM_SEND, nil=long_note["ItemID"], to=u2.id, time_ms=E - 1)
    assert code(engine.handle(send)) == "Ack"
    assert engine.world.inboxes[u2.id] == [long_note["ItemID"]]
    before = snapshot(engine.world)
    late = engine.handle(req(u1.id, u2.id, Action.MM_SEND, nil=long_note["ItemID"], to=u2.id, time_ms=E))
    assert_error(late, PAErrorCode.INC_DQ)
    assert snapshot(engine.world) == before
    fbr = report(engine, late)
    assert (fbr["ItemType"], fbr["Rule"], fbr["RulesVersionID"]) == ("FBR", "MaxMessageChars", "v2")
    assert fbr["FaultyProcessID"] == u1.id
    records = engine.activity.query(process_id=u2.id)[-2:]
    assert [(r.status, r.rules_version) for r in records] == [("Ack", "v1"), ("Error", "v2")]
    assert engine.activity.query(process_id=MANAGER)[-1].rules_version == "v1"


def test_foreign_process_actions_change_at_their_effective_time(engine: ProcessActionEngine) -> None:
    """A version that no longer lets other M-Instances ask for Resolve: a visitor's Resolve is Ack
    at E-1 and InsRights with a Fault Detection Report about b.example from E."""
    u1 = register(engine, "u1")
    no_resolve = [a for a in FOREIGN_ACTIONS if a != "Resolve"]
    assert code(change_rules(engine, "v2", E, ForeignProcessActions=no_resolve)) == "Ack"
    early = engine.handle(req(VISITOR, RESOLUTION, Action.RESOLVE, nil=u1.persona, time_ms=E - 1), origin="b.example")
    assert code(early) == "Ack"
    before = snapshot(engine.world)
    late = engine.handle(req(VISITOR, RESOLUTION, Action.RESOLVE, nil=u1.persona, time_ms=E), origin="b.example")
    assert_error(late, PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    fdr = report(engine, late)
    assert (fdr["ItemType"], fdr["Rule"], fdr["RulesVersionID"]) == ("FDR", "ForeignProcessActions", "v2")
    assert fdr["ReportedMInstanceID"] == "b.example" and fdr["FaultyProcessID"] == VISITOR


def test_max_placements_per_process_changes_at_its_effective_time(engine: ProcessActionEngine) -> None:
    """v2 allows one placed Item per Process: u1's second placement is Ack at E-1, its third is
    refused at E with a Fault Behaviour Report, and nothing is placed."""
    u1 = register(engine, "u1")
    for name in ("m1", "m2"):
        author(engine, u1.id, model_draft(name, producer=u1.id, fmt="glTF/2.0-binary"))
    assert codes(engine, put(u1, SQUARE)) == ["Ack"]
    assert code(change_rules(engine, "v2", E, MaxPlacementsPerProcess=1)) == "Ack"
    m1, m2 = "mmm://a.example/items/m1", "mmm://a.example/items/m2"
    assert code(engine.handle(req(u1.id, u1.id, Action.MM_ADD, nil=m1, at=SQUARE, time_ms=E - 1))) == "Ack"
    before = snapshot(engine.world)
    late = engine.handle(req(u1.id, u1.id, Action.MM_ADD, nil=m2, at=SQUARE, time_ms=E))
    assert_error(late, PAErrorCode.CLASH)
    assert snapshot(engine.world) == before
    assert (report(engine, late)["Rule"], m2 in engine.world.placements) == ("MaxPlacementsPerProcess", False)


def test_only_the_change_procedure_process_changes_the_rules(engine: ProcessActionEngine) -> None:
    """A User's Modify of the Rules Item, itself or through the manager, is InsRights and leaves
    the Rules and their Item unchanged."""
    u1 = register(engine, "u1")
    before = snapshot(engine.world)
    assert_error(change_rules(engine, "v2", E, by=u1.id), PAErrorCode.INS_RIGHTS)
    doc = rules_item("a.example", version_id="v2", effective_ms=E)
    via_manager = engine.handle(req(u1.id, MANAGER, Action.MODIFY, nil=RULES_ID, items=[doc], time_ms=T))
    assert_error(via_manager, PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    assert engine.world.items[RULES_ID]["RulesVersionID"] == "v1"


def test_a_rules_change_needs_notice_a_new_version_and_a_later_effective_time(engine: ProcessActionEngine) -> None:
    """Announced 1 ms short of MinNoticeMs: refused; exactly MinNoticeMs: Ack. Then v1 or v2 again,
    or a v3 effective at or before v2, are refused changing nothing; a v3 effective after v2 is Ack."""
    before = snapshot(engine.world)
    short = change_rules(engine, "v2", E - 1)
    assert short.status.kind is PAStatusKind.ERROR and "less than" in short.status.reason
    assert snapshot(engine.world) == before
    assert code(change_rules(engine, "v2", E + 10, at_ms=T + 10)) == "Ack"
    assert engine.world.items[RULES_ID]["RulesVersionID"] == "v2"
    before = snapshot(engine.world)
    for version_id, effective in (("v1", E + 20), ("v2", E + 20), ("v3", E + 10), ("v3", E)):
        refused = change_rules(engine, version_id, effective)
        assert refused.status.kind is PAStatusKind.ERROR, (version_id, effective, refused.status)
    assert snapshot(engine.world) == before
    assert code(change_rules(engine, "v3", E + 11)) == "Ack"
    assert [v.version_id for v in engine.world.rules.versions] == ["v1", "v2", "v3"]
