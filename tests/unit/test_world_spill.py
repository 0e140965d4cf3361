"""A node's World keeps a bounded number of Items and Transactions in memory (issue 18's soak; the
DEVELOPERS rule that what peers can make us spend has a limit): the rest are in a throwaway SQLite
file (instance/world/spill.py), read back on use, and the World answers the same."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest
from mmm_helpers import M, code, register, req

import instance.world.spill as spill_module
from instance.assets.ledger import AssetLedger
from instance.process_actions import ProcessActionService
from instance.world.model import Action, Value
from instance.world.spill import Spill, SpilledDocs


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
    users = [register(service.engine, f"u{i}") for i in range(4)]
    ledger.fund(users[0].id, 1000)
    pay = req(users[0].id, users[0].id, Action.TRANSACT, nil=users[0].wallet, to=users[1].id, payment=Value(7, "ACU"))
    assert code(service.decide(pay)) == "Ack"
    assert world.items.cached() <= 3 and world.transactions.cached() <= 3
    assert all(u.persona in world.items and u.wallet in world.items for u in users)
    items, transactions = dict(world.items.items()), dict(world.transactions.items())
    assert len(transactions) == 1 and len(items) > 3 * len(users)
    assert code(service.decide(pay)) == "Ack" and ledger.balance(users[1].id) == 7  # a retry pays nothing more
    service.close()

    again = ProcessActionService(M, database=ledger.database, resolver=None, ledger=ledger)
    assert dict(again.world.items.items()) == items
    assert dict(again.world.transactions.items()) == transactions
    again.close()
    ledger.close()
