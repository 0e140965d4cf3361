"""The home's durable per-destination identity push queue (IDSF, FGMV-43 9.4 step 5;
mmmfed/identity/push_queue.py): one entry per user, in first-queued order, newer versions raise
an entry in place, an entry goes once a push of at least its version was taken, the queue is
bounded and survives a new instance over the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmmfed.errors import InvalidInput
from mmmfed.identity.push_queue import PushQueue, QueuedPush


def test_one_entry_per_user_in_first_queued_order_raised_in_place(tmp_path: Path) -> None:
    queue = PushQueue(tmp_path)
    assert queue.enqueue("b.example", "alice", 2, now_s=10)
    assert queue.enqueue("b.example", "bob", 5, now_s=11)
    assert queue.enqueue("b.example", "alice", 4, now_s=12)
    assert queue.enqueue("b.example", "alice", 3, now_s=13)  # older than queued: kept at 4
    assert queue.entries("b.example") == [QueuedPush("alice", 4, 10), QueuedPush("bob", 5, 11)]
    assert queue.peers() == ["b.example"] and queue.entries("c.example") == []
    again = PushQueue(tmp_path)  # a restarted gateway reads the same queue
    assert again.entries("b.example") == queue.entries("b.example")


def test_an_entry_goes_only_once_its_version_was_taken(tmp_path: Path) -> None:
    queue = PushQueue(tmp_path)
    queue.enqueue("b.example", "alice", 4, now_s=10)
    queue.done("b.example", "alice", 3)  # a push of an older version: still waits for 4
    assert [e.version for e in queue.entries("b.example")] == [4]
    queue.done("b.example", "alice", 4)
    assert queue.entries("b.example") == []
    queue.enqueue("b.example", "alice", 9, now_s=11)
    queue.drop("b.example", "alice")
    assert queue.entries("b.example") == []


def test_the_queue_is_bounded_per_destination_and_ids_are_checked(tmp_path: Path) -> None:
    queue = PushQueue(tmp_path, max_per_peer=2)
    assert queue.enqueue("b.example", "u1", 1, now_s=1) and queue.enqueue("b.example", "u2", 1, now_s=1)
    assert not queue.enqueue("b.example", "u3", 1, now_s=1)  # full: the caller looks again later
    assert queue.enqueue("b.example", "u1", 2, now_s=2)  # a user already queued still moves on
    assert queue.enqueue("c.example", "u3", 1, now_s=1)  # another destination has its own bound
    assert [e.user for e in queue.entries("b.example")] == ["u1", "u2"]
    with pytest.raises(InvalidInput):
        queue.enqueue("b.example", "../x", 1, now_s=1)
    with pytest.raises(InvalidInput):
        queue.enqueue("../b", "u1", 1, now_s=1)


def test_a_pass_queues_and_ends_many_users_with_one_write_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """enqueue_all and done_all (issue 18 item 2: a federation transaction answers up to 50
    users) give what one call per user gives, in order, and rewrite the file once each; a full
    queue refuses the users past its bound and keeps the others."""
    queue = PushQueue(tmp_path, max_per_peer=3)
    assert queue.enqueue("b.example", "alice", 2, now_s=10)
    writes: list[int] = []
    save = queue._save
    monkeypatch.setattr(queue, "_save", lambda peer, entries: (writes.append(len(entries)), save(peer, entries)))
    taken = queue.enqueue_all("b.example", [("bob", 1), ("alice", 5), ("carol", 2), ("dave", 1)], now_s=11)
    assert taken == [True, True, True, False] and writes == [3]
    assert queue.entries("b.example") == [
        QueuedPush("alice", 5, 10),
        QueuedPush("bob", 1, 11),
        QueuedPush("carol", 2, 11),
    ]
    queue.done_all("b.example", [("alice", 4), ("bob", 1), ("carol", 2), ("carol", 1)])
    assert writes == [3, 1] and queue.entries("b.example") == [QueuedPush("alice", 5, 10)]
    queue.done_all("b.example", [])
    with pytest.raises(InvalidInput):
        queue.enqueue_all("b.example", [("bob", 1), ("../x", 1)], now_s=12)
    assert writes == [3, 1] and queue.entries("b.example") == [QueuedPush("alice", 5, 10)]
