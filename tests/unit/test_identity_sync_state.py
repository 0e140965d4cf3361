"""The home's synchronisation state (IDSF, FGMV-43 9.4 steps 5-7; mmmfed/identity/sync_state.py):
versions by claim digests, roaming changes PENDING or CONFLICT by versions, settled only by the
user's choice, bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmmfed.errors import FailedPrecondition, InvalidInput, NotFound, TooLarge
from mmmfed.identity.sync_state import MAX_CHANGES, SyncState, check_change

B, C = "b.example", "c.example"


def test_versions_move_only_when_a_claim_changes_and_record_which() -> None:
    state = SyncState()
    assert state.observe({"name": "Alice", "avatars": ["av1"]}) and state.version == 1
    assert not state.observe({"avatars": ["av1"], "name": "Alice"}) and state.version == 1
    assert state.observe({"name": "Alice"})  # the avatar revoked: the claim is gone
    assert state.version == 2 and state.field_versions == {"name": 1, "avatars": 2}


def test_an_offer_on_a_field_changed_after_its_base_is_a_conflict_and_a_pending_one_becomes_one() -> None:
    state = SyncState()
    state.observe({"name": "Alice", "comfort": {"motion": "full"}})
    pending = state.offer(B, "change-0001", "comfort", '{"motion": "reduced"}', 1, now_s=10)
    assert pending.status == "PENDING" and pending.value == {"motion": "reduced"}
    state.observe({"name": "Alice", "comfort": {"motion": "teleport"}})  # the home changes it too
    assert state.changes["change-0001"].status == "CONFLICT"
    late = state.offer(C, "change-0002", "comfort", '{"motion": "none"}', 1, now_s=11)
    assert late.status == "CONFLICT"
    other = state.offer(C, "change-0003", "name", '"Al"', 1, now_s=12)  # name did not change: no conflict
    assert other.status == "PENDING"
    assert state.offer(B, "change-0001", "name", '"x"', 1, now_s=13) is pending  # the same id is the same change
    with pytest.raises(InvalidInput) as err:
        state.offer(C, "change-0001", "name", '"x"', 1, now_s=13)
    assert err.value.reason == "CHANGE_ID_INVALID"


def test_settling_needs_an_open_change_and_settled_ones_go_once_told() -> None:
    state = SyncState()
    state.observe({"name": "Alice"})
    state.offer(B, "change-0001", "name", '"Al"', 1, now_s=10)
    assert state.settle("change-0001", accept=False).status == "REJECTED"
    with pytest.raises(FailedPrecondition) as settled:
        state.settle("change-0001", accept=True)
    assert settled.value.reason == "CHANGE_SETTLED"
    with pytest.raises(NotFound) as unknown:
        state.settle("change-9999", accept=True)
    assert unknown.value.reason == "CHANGE_UNKNOWN"
    state.forget_settled(B)
    assert state.changes == {}


def test_bounds_and_values(tmp_path: Path) -> None:
    state = SyncState()
    state.observe({"name": "Alice"})
    for n in range(MAX_CHANGES):
        state.offer(B, f"change-{n:04}", "name", '"Al"', 1, now_s=n)
    with pytest.raises(TooLarge) as full:
        state.offer(B, "change-last", "name", '"Al"', 1, now_s=99)
    assert full.value.reason == "CHANGES_FULL"
    with pytest.raises(InvalidInput) as future:
        SyncState(version=1).offer(B, "change-0001", "name", '"Al"', 5, now_s=1)
    assert future.value.reason == "VERSION_INVALID"
    path = tmp_path / "sync.json"
    path.write_text(state.to_text())
    assert SyncState.load(path) == state
    for field, value, reason in [
        ("birthdate", '"2010-01-01"', "FIELD_NOT_ROAMABLE"),
        ("rights", "[]", "FIELD_NOT_ROAMABLE"),
        ("name", '""', "VALUE_INVALID"),
        ("languages", '["' + "x" * 40 + '"]', "VALUE_INVALID"),
        ("comfort", "{not json", "VALUE_INVALID"),
        ("comfort", "x" * 5000, "VALUE_INVALID"),
    ]:
        with pytest.raises(InvalidInput) as bad:
            check_change(field, value)
        assert bad.value.reason == reason, (field, value)
    assert check_change("languages", '["de-DE", "en"]') == ["de-DE", "en"]
