"""The M-Instance's one database (issue 14): Activity Data and the asset ledger are tables of one
SQLite file, and a decision's effects and its Activity Data record commit in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmm_helpers import M, code, register, req

from instance.assets.ledger import AssetLedger
from instance.database import FILE_NAME, Database
from instance.process_actions import ProcessActionService
from instance.world.model import Action, Value

CURRENCY = "ACU"


def test_nested_write_joins_the_outer_and_a_failed_nested_write_undoes_only_itself(tmp_path: Path) -> None:
    db = Database(tmp_path / FILE_NAME)
    db.ensure_schema("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
    with db.write() as outer:
        outer.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError), db.write() as inner:
            inner.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("refused")
        with db.write() as inner:
            inner.execute("INSERT INTO t VALUES (3)")
    with db.read() as conn:
        assert [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")] == [1, 3]
    with pytest.raises(RuntimeError), db.write() as outer:
        outer.execute("INSERT INTO t VALUES (4)")
        raise RuntimeError("crash in the middle")
    with db.read() as conn:
        assert [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")] == [1, 3]
    db.close()
    db.close()  # a second close does nothing


def test_activity_and_ledger_share_one_file(tmp_path: Path) -> None:
    database = Database.in_dir(tmp_path)
    ledger = AssetLedger(database, m_instance_id=M, currency_id=CURRENCY)
    service = ProcessActionService(M, database=database, resolver=None, ledger=ledger)
    with database.read() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"activity", "activity_ref", "assets", "wallets", "transfers", "payments"} <= tables
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".sqlite3") == [FILE_NAME]
    service.close()
    database.close()


def test_transact_payment_and_its_activity_record_commit_together(tmp_path: Path) -> None:
    """A decision whose record cannot be written leaves its payment unwritten too: the window in
    which a Wallet was debited without the Transact that debited it being Activity Data is closed."""
    database = Database.in_dir(tmp_path)
    ledger = AssetLedger(database, m_instance_id=M, currency_id=CURRENCY)
    service = ProcessActionService(M, database=database, resolver=None, ledger=ledger)
    alice, bob = register(service.engine, "alice"), register(service.engine, "bob")
    ledger.fund(alice.id, 1000)
    records = len(service.activity)

    def broken_append(*args: object, **kwargs: object) -> int:
        raise OSError("disk full")

    service.activity.append = broken_append  # type: ignore[method-assign]
    pay = req(alice.id, alice.id, Action.TRANSACT, nil=alice.wallet, to=bob.id, payment=Value(400, CURRENCY))
    with pytest.raises(OSError, match="disk full"):
        service.decide(pay)
    assert (ledger.balance(alice.id), ledger.balance(bob.id)) == (1000, 0)
    assert not ledger.paid(next(iter(service.world.transactions), "none"))
    del service.activity.append  # the log works again
    assert len(service.activity) == records
    service.close()
    database.close()


def test_a_decided_payment_is_in_the_database_with_its_record(tmp_path: Path) -> None:
    database = Database.in_dir(tmp_path)
    ledger = AssetLedger(database, m_instance_id=M, currency_id=CURRENCY)
    service = ProcessActionService(M, database=database, resolver=None, ledger=ledger)
    alice, bob = register(service.engine, "alice"), register(service.engine, "bob")
    ledger.fund(alice.id, 1000)
    pay = req(alice.id, alice.id, Action.TRANSACT, nil=alice.wallet, to=bob.id, payment=Value(250, CURRENCY))
    assert code(service.decide(pay)) == "Ack"
    [record] = service.activity.query(process_id=alice.id)[-1:]
    assert record.action == "Transact" and record.status == "Ack"
    assert ledger.balance(bob.id) == 250
    service.close()
    database.close()
