"""One Wallet per Process (issue 14): a Transact in the asset ledger's currency pays from the
ledger's Wallet, once per Transaction, also when Activity Data is replayed on restart."""

from __future__ import annotations

from pathlib import Path

from mmm_helpers import M, code, register, req

from instance.assets.ledger import AssetLedger
from instance.process_actions import ProcessActionService
from instance.world.model import Action, Value

CURRENCY = "ACU"


def _service(ledger: AssetLedger) -> ProcessActionService:
    return ProcessActionService(M, database=ledger.database, resolver=None, ledger=ledger)


def test_transact_in_the_ledger_currency_pays_once_and_replays(tmp_path: Path) -> None:
    """MMM-TEC Transact: FundWallet's Wallet pays; after a restart the replayed decision finds the
    Transaction paid and pays nothing again, and the World still holds the Transaction."""
    ledger = AssetLedger(tmp_path / "assets.sqlite3", m_instance_id=M, currency_id=CURRENCY)
    service = _service(ledger)
    alice, bob = register(service.engine, "alice"), register(service.engine, "bob")
    ledger.fund(alice.id, 1000)
    pay = req(alice.id, alice.id, Action.TRANSACT, nil=alice.wallet, to=bob.id, payment=Value(400, CURRENCY))
    assert code(service.decide(pay)) == "Ack"
    assert (ledger.balance(alice.id), ledger.balance(bob.id)) == (600, 400)
    over = req(alice.id, alice.id, Action.TRANSACT, nil=alice.wallet, to=bob.id, payment=Value(601, CURRENCY))
    assert code(service.decide(over)) == "InsValue"
    service.close()

    again = _service(ledger)  # replays Activity Data
    assert (ledger.balance(alice.id), ledger.balance(bob.id)) == (600, 400)
    transactions = again.world.transactions
    assert [t["Value"]["Amount"] for t in transactions.values() if t["PayerProcessID"] == alice.id] == [400]
    assert code(again.decide(pay)) == "Ack"  # a retry: the same answer, nothing paid again
    assert ledger.balance(alice.id) == 600
    again.close()
    ledger.close()


def test_opening_balance_in_the_ledger_currency_is_issued_once(tmp_path: Path) -> None:
    """Rules v1 open a Basic Account's Wallet with 100.00 EUR: with the ledger in EUR the opening
    is issued to the ledger's Wallet of the User, once, also after a replay."""
    ledger = AssetLedger(tmp_path / "assets.sqlite3", m_instance_id=M, currency_id="EUR")
    service = _service(ledger)
    alice = register(service.engine, "alice")
    assert (ledger.balance(alice.id), ledger.balance("treasury")) == (10_000, -10_000)
    service.close()
    _service(ledger).close()  # replays Register
    assert (ledger.balance(alice.id), ledger.balance("treasury")) == (10_000, -10_000)
    ledger.close()
