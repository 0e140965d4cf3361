"""A node's World keeps a bounded number of Items and Transactions in memory (issue 18's soak; the
DEVELOPERS rule that what peers can make us spend has a limit): the rest are in a throwaway SQLite
file (instance/world/spill.py), read back on use, and the World answers the same."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest
from mmm_helpers import START_MS, M, code, register, req

import instance.world.spill as spill_module
from instance.assets.ledger import AssetLedger
from instance.process_actions import ProcessActionService
from instance.world.model import Action, DeonticVerb, Right, RightLevel, Value
from instance.world.spill import Spill, SpilledDocs, SpilledRights


def test_only_the_most_recently_used_documents_stay_in_memory() -> None:
    spill = Spill()
    docs = spill.docs("items", in_memory=2)
    for i in range(5):
        docs[f"id-{i}"] = {"ItemID": f"id-{i}", "N": i}
    assert docs.cached() == 2 and len(docs) == 5
    assert docs["id-0"] == {"ItemID": "id-0", "N": 0}  # read back from the file
    assert docs.cached() == 2
    assert sorted(docs) == [f"id-{i}" for i in range(5)] and "id-3" in docs and "id-9" not in docs
    assert docs.get("id-9") is None
    del docs["id-1"]
    assert "id-1" not in docs and len(docs) == 4
    with pytest.raises(KeyError):
        del docs["id-1"]
    docs["id-2"] = {"ItemID": "id-2", "N": 20}  # replaced
    assert docs["id-2"]["N"] == 20 and len(docs) == 4
    spill.close()


def test_a_change_made_in_place_survives_leaving_memory() -> None:
    """``_refresh_capabilities`` changes an Item it just read; the change is written back when the
    Item leaves memory, so reading it again gives the changed Item."""
    spill = Spill()
    docs = spill.docs("items", in_memory=1)
    docs["a"] = {"ICapabilities": []}
    docs["a"]["ICapabilities"] = [{"ProcessID": "p", "Rights": ["MM-Add"]}]
    docs["b"] = {}  # pushes "a" out of memory
    assert docs.cached() == 1
    assert docs["a"] == {"ICapabilities": [{"ProcessID": "p", "Rights": ["MM-Add"]}]}
    spill.close()


def test_copies_are_plain_dicts_and_tables_are_apart() -> None:
    spill = Spill()
    items, transactions = spill.docs("items", in_memory=1), spill.docs("transactions", in_memory=1)
    items["x"], items["y"] = {"A": [1]}, {"B": 2}
    transactions["t"] = {"T": 1}
    assert pickle.loads(pickle.dumps(items)) == {"x": {"A": [1]}, "y": {"B": 2}}
    deep = copy.deepcopy(items)
    assert type(deep) is dict and deep == items and list(transactions) == ["t"] and "t" not in items
    with pytest.raises(ValueError):
        SpilledDocs(spill, "items; DROP TABLE items")
    spill.close()


def _right(rights_id: str, holder: str, target: str, action: Action = Action.MM_ADD) -> Right:
    return Right(rights_id, holder, DeonticVerb.MAY, action, target, RightLevel.INTERNAL, "mmm://a.example/m", 5, 9)


def test_rights_are_found_by_holder_and_by_target_and_follow_every_change() -> None:
    """``held_by`` (what a Rights check reads, kept in memory for recent holders) and ``on_target``
    (ICapabilities) see each Right added, replaced (even to another holder) or removed."""
    spill = Spill()
    rights = spill.rights(holders_in_memory=1)
    rights["r1"], rights["r2"] = _right("r1", "alice", "x"), _right("r2", "alice", "y", Action.MM_MOVE)
    rights["r3"] = _right("r3", "bob", "x")
    assert [r.rights_id for r in rights.held_by("alice")] == ["r1", "r2"]
    assert [r.rights_id for r in rights.on_target("x")] == ["r1", "r3"]
    assert rights["r2"] == _right("r2", "alice", "y", Action.MM_MOVE)  # every field read back
    rights.held_by("bob")  # alice's Rights leave memory
    rights["r1"] = _right("r1", "bob", "x")  # replaced: now bob's
    assert [r.rights_id for r in rights.held_by("alice")] == ["r2"]
    assert [r.rights_id for r in rights.held_by("bob")] == ["r1", "r3"]
    del rights["r3"]
    assert [r.rights_id for r in rights.held_by("bob")] == ["r1"] and "r3" not in rights and len(rights) == 2
    with pytest.raises(KeyError):
        del rights["r3"]
    assert copy.deepcopy(rights) == {"r1": _right("r1", "bob", "x"), "r2": rights["r2"]}
    spill.close()


def test_a_holder_of_many_rights_is_answered_from_the_file_and_memory_stays_bounded() -> None:
    """Issue 18's soak: a Process that receives an Asset every few seconds holds Rights on each;
    kept whole in memory, one holder's Rights grew without bound. Past ``per_holder`` Rights a
    holder's are read by (holder, target) from the file, and every answer stays the same."""
    spill = Spill()
    rights = spill.rights(holders_in_memory=2, per_holder=3)
    for i in range(50):
        rights[f"r{i:02d}"] = _right(f"r{i:02d}", "collector", f"asset-{i}")
    rights["any"] = _right("any", "collector", "*", Action.MM_MOVE)
    rights["b1"], rights["b2"] = _right("b1", "bob", "x"), _right("b2", "bob", "y")
    assert len(rights.held_by("collector")) == 51 and rights.cached() == 0
    assert [r.rights_id for r in rights.held_on("collector", ("*", "asset-7"))] == ["any", "r07"]
    assert rights.held_on("collector", ("nothing",)) == ()
    assert [r.rights_id for r in rights.held_on("bob", ("y", "*"))] == ["b2"] and rights.cached() == 2
    rights["r51"] = _right("r51", "collector", "asset-51")  # one more: found at once
    assert [r.rights_id for r in rights.held_on("collector", ("asset-51",))] == ["r51"]
    for i in range(48):
        del rights[f"r{i:02d}"]
    assert [r.rights_id for r in rights.held_on("collector", ("asset-48", "asset-3"))] == ["r48"]
    assert rights.cached() <= 2 * 3
    spill.close()


def test_a_world_checks_the_rights_of_a_holder_of_many_from_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """``World.may`` (every Rights check) reads only the Rights on the target and on any target:
    a holder of more than :data:`~instance.world.spill.RIGHTS_PER_HOLDER_IN_MEMORY` Rights leaves
    nothing of them in memory, and the answers are those of a plain ``dict`` of Rights."""
    monkeypatch.setattr(spill_module, "RIGHTS_PER_HOLDER_IN_MEMORY", 4)
    service = ProcessActionService(M, database=None, resolver=None)
    world = service.world
    user = register(service.engine, "collector")
    plain = dict(world.rights.items())
    for i in range(20):
        right = Right(
            f"asset-{i}#add", user.id, DeonticVerb.MAY, Action.MM_ADD, f"asset-{i}", RightLevel.ACQUIRED, M, 0
        )
        world.rights[right.rights_id] = plain[right.rights_id] = right
    refusal = Right("no-7", user.id, DeonticVerb.MAY_NOT, Action.MM_ADD, "asset-7", RightLevel.INTERNAL, M, 0)
    world.rights["no-7"] = plain["no-7"] = refusal
    others = world.rights.cached()  # other holders' Rights, read while registering
    assert world.may(user.id, Action.MM_ADD, "asset-3", START_MS) and world.rights.cached() == others
    assert not world.may(user.id, Action.MM_ADD, "asset-7", START_MS)  # May Not wins
    assert not world.may(user.id, Action.MM_ADD, "asset-99", START_MS)
    assert world.may(user.id, Action.MM_ADD, user.persona, START_MS)  # a registration Right, too
    dict_world = copy.copy(world)
    dict_world.rights = plain
    for target in ("asset-3", "asset-7", "asset-99", user.persona, None):
        for action in (Action.MM_ADD, Action.MM_MOVE, Action.TRANSACT):
            assert world.covering(user.id, action, target, START_MS) == dict_world.covering(
                user.id, action, target, START_MS
            ), (action, target)
    service.close()


def test_a_node_world_holds_items_in_bounded_memory_and_answers_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registers and Transacts through a ProcessActionService whose World keeps 3 documents in
    memory: every Item is still there, a Transaction still pays once, and a restart (replay of
    Activity Data into a new spill) holds the same Items and Transactions."""
    monkeypatch.setattr(spill_module, "DOCS_IN_MEMORY", 3)
    ledger = AssetLedger(tmp_path / "assets.sqlite3", m_instance_id=M, currency_id="ACU")
    service = ProcessActionService(M, database=ledger.database, resolver=None, ledger=ledger)
    world = service.world
    assert isinstance(world.items, SpilledDocs) and isinstance(world.transactions, SpilledDocs)
    assert isinstance(world.rights, SpilledRights)
    users = [register(service.engine, f"u{i}") for i in range(4)]
    ledger.fund(users[0].id, 1000)
    pay = req(users[0].id, users[0].id, Action.TRANSACT, nil=users[0].wallet, to=users[1].id, payment=Value(7, "ACU"))
    assert code(service.decide(pay)) == "Ack"
    assert world.items.cached() <= 3 and world.transactions.cached() <= 3
    assert all(u.persona in world.items and u.wallet in world.items for u in users)
    items, transactions = dict(world.items.items()), dict(world.transactions.items())
    rights = dict(world.rights.items())
    assert world.may(users[0].id, Action.MM_ADD, users[0].persona, START_MS)  # a Right read back
    assert len(transactions) == 1 and len(items) > 3 * len(users)
    assert code(service.decide(pay)) == "Ack" and ledger.balance(users[1].id) == 7  # a retry pays nothing more
    service.close()

    again = ProcessActionService(M, database=ledger.database, resolver=None, ledger=ledger)
    assert dict(again.world.items.items()) == items
    assert dict(again.world.transactions.items()) == transactions
    assert dict(again.world.rights.items()) == rights
    again.close()
    ledger.close()
