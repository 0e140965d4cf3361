"""The durable queue of roaming changes going home (instance/avatar_home_queue.py): a change made
while home is down is QUEUED (worn at once), a later one waits behind it, and a pass sends them
in order: one home refused is recorded REFUSED and leaves the queue, one home accepted SENT; a
refusal of the first attempt passes through and records nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from test_avatar_sync_parts import _items, _lookup, _ref

from instance.avatar_home_queue import AvatarHomeQueue
from instance.avatar_sync import AvatarSync
from instance.database import Database
from instance.world.activity import ActivityLog
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.errors import RemoteError

B = "b.example"
USER = "mmm://a.example/processes/user/alice"


class Home:
    """What the gateway answers, one outcome per call: a StatusCode raises, None accepts."""

    def __init__(self, *outcomes: grpc.StatusCode | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []

    async def __call__(self, change: spb.RoamingChange) -> spb.RoamingChange:
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise RemoteError("home says no", code=outcome, reason=outcome.name)
        self.sent.append(change.change_id)
        pending = spb.RoamingChange()
        pending.CopyFrom(change)
        pending.state = "PENDING"
        return pending


def _setup(tmp_path: Path, home: Home) -> tuple[AvatarSync, AvatarHomeQueue, dict[str, Any]]:
    database = Database.in_dir(tmp_path)
    items = _items("persona", "coat", "hat")
    sync = AvatarSync(
        database,
        B,
        lookup=_lookup(items),
        persona_of=lambda _user: items["persona"],
        migrations=cast(Any, None),  # not reached: no change is received here
        activity=ActivityLog(database),
    )
    sync.keep_roaming(USER, "mmm://a.example/items/persona", "urn:uuid:visit", items["persona"], spb.AvatarVersion())
    return sync, AvatarHomeQueue(database, sync, home, base_s=0.0), items


def _states(database: Database) -> list[str]:
    with database.read() as db:
        return [str(r[0]) for r in db.execute("SELECT state FROM roaming_changes ORDER BY time_ms, rowid")]


async def test_changes_wait_in_order_and_each_leaves_the_queue_once_home_answered(tmp_path: Path) -> None:
    home = Home(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION, None)
    sync, queue, items = _setup(tmp_path, home)
    wear = sync.change(spb.ChangeAppearanceRequest(user_process_id=USER, attach=[_ref(items["coat"], "outfit")]))
    first = await queue.submit(wear.change)
    assert first.state == "QUEUED"
    add_hat = sync.change(spb.ChangeAppearanceRequest(user_process_id=USER, attach=[_ref(items["hat"], "accessory")]))
    assert [a.item_id for a in add_hat.change.attachments] == [items["coat"].item_id, items["hat"].item_id]
    second = await queue.submit(add_hat.change)  # behind the first: not sent on its own
    assert second.state == "QUEUED" and home.outcomes == [grpc.StatusCode.FAILED_PRECONDITION, None]
    assert [c.change_id for c in queue.queued()] == [first.change_id, second.change_id]
    assert await queue.drain_once() == 2
    assert queue.queued() == [] and home.sent == [second.change_id]
    assert _states(queue.database) == ["REFUSED", "SENT"]
    _, worn = sync._roaming(USER)  # the later change stays worn: a late SENT does not undo it
    assert [a.item_id for a in worn.attachments] == [items["coat"].item_id, items["hat"].item_id]


async def test_a_refusal_of_the_first_attempt_passes_through_and_records_nothing(tmp_path: Path) -> None:
    sync, queue, items = _setup(tmp_path, Home(grpc.StatusCode.FAILED_PRECONDITION))
    wear = sync.change(spb.ChangeAppearanceRequest(user_process_id=USER, attach=[_ref(items["coat"], "outfit")]))
    with pytest.raises(RemoteError) as err:
        await queue.submit(wear.change)
    assert err.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert queue.queued() == [] and _states(queue.database) == []
