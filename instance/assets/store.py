"""The durable store of the asset ledger: its tables in the M-Instance's one database
(:class:`instance.database.Database`), and the rows it keeps (persistence only: the rules of a
transfer are in ``origin.py`` and ``destination.py``).

Every state change is ONE transaction (:meth:`LedgerStore._write`) that changes the journal, the
Asset and the Wallets together, so a crash (SIGKILL, power cut) leaves either the state before or
the state after, never a mix. Crash points (:mod:`mmmfed.crashpoints`) sit right before and after
each of these writes. Each kind of row is written by one SQL statement (:func:`insert_transfer`,
:func:`insert_asset`, :meth:`LedgerStore._move`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from instance.assets import offers
from instance.assets.states import TREASURY, AssetState, Role, TransferState, TxStatus
from instance.database import Database
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.errors import InvalidInput, NotFound
from mmmfed.items import instance_of, parse_item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    asset_id TEXT PRIMARY KEY, item_json BLOB NOT NULL, data BLOB NOT NULL, state TEXT NOT NULL,
    owner TEXT NOT NULL, migrated_to TEXT NOT NULL DEFAULT '', locked_by TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wallets (holder TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (
    transfer_id TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT NOT NULL, tx_status TEXT NOT NULL,
    asset_id TEXT NOT NULL, destination_asset_id TEXT NOT NULL, source_process_id TEXT NOT NULL,
    destination_process_id TEXT NOT NULL, peer TEXT NOT NULL, request_digest TEXT NOT NULL,
    content_digest TEXT NOT NULL, offer BLOB NOT NULL, staged_item BLOB NOT NULL DEFAULT x'',
    transaction_json BLOB NOT NULL DEFAULT x'', created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
    terminal INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS transfers_by_asset ON transfers (asset_id);
CREATE TABLE IF NOT EXISTS payments (
    transaction_id TEXT PRIMARY KEY, payer TEXT NOT NULL, payee TEXT NOT NULL, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS provenance (
    asset_id TEXT NOT NULL, seq INTEGER NOT NULL, transaction_id TEXT NOT NULL, item_json BLOB NOT NULL,
    PRIMARY KEY (asset_id, seq), UNIQUE (asset_id, transaction_id));
"""

TRANSFER_COLUMNS = (
    "transfer_id, role, state, tx_status, asset_id, destination_asset_id, source_process_id, "
    "destination_process_id, peer, offer, created_ms, updated_ms, expires_ms, reason, message, terminal, attempts"
)


def now_ms() -> int:
    """Unix milliseconds."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class TransferRow:
    """One row of the transfer journal, as first written (later writes UPDATE it)."""

    transfer_id: str
    role: Role
    state: TransferState
    tx_status: TxStatus
    peer: str
    created_ms: int
    asset_id: str = ""
    destination_asset_id: str = ""
    source_process_id: str = ""
    destination_process_id: str = ""
    request_digest: str = ""
    content_digest: str = ""
    offer: bytes = b""
    staged_item: bytes = b""
    expires_ms: int = 0
    terminal: bool = False
    reason: str = ""


def insert_transfer(db: sqlite3.Connection, row: TransferRow) -> None:
    """Write a new journal row: the one INSERT of the transfers table."""
    values = asdict(row)
    values.update(role=str(row.role), state=str(row.state), tx_status=str(row.tx_status), terminal=int(row.terminal))
    db.execute(
        "INSERT INTO transfers (transfer_id, role, state, tx_status, asset_id, destination_asset_id, "
        "source_process_id, destination_process_id, peer, request_digest, content_digest, offer, staged_item, "
        "created_ms, updated_ms, expires_ms, terminal, reason) VALUES (:transfer_id, :role, :state, :tx_status, "
        ":asset_id, :destination_asset_id, :source_process_id, :destination_process_id, :peer, :request_digest, "
        ":content_digest, :offer, :staged_item, :created_ms, :created_ms, :expires_ms, :terminal, :reason)",
        values,
    )


def insert_asset(db: sqlite3.Connection, asset_id: str, item_json: bytes, data: bytes, owner: str, now: int) -> None:
    """Write a new Asset, OWNED by ``owner``: the one INSERT of the assets table."""
    db.execute(
        "INSERT INTO assets VALUES (?, ?, ?, ?, ?, '', '', ?)",
        (asset_id, item_json, data, str(AssetState.OWNED), owner, now),
    )


class LedgerStore:
    """The ledger's tables in ``database`` (the M-Instance's one
    :class:`~instance.database.Database`, or one of its own at a path). Thread-safe; every method
    is one short transaction (call from a worker thread in async code), or joins the decision
    that is open on this thread. Errors leave nothing written."""

    def __init__(
        self,
        database: Database | Path,
        *,
        m_instance_id: str,
        currency_id: str,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.m_instance_id = m_instance_id
        self.currency_id = currency_id
        self._clock_ms = clock_ms
        self.database = database if isinstance(database, Database) else Database(database)
        self.database.ensure_schema(_SCHEMA)

    def close(self) -> None:
        """Close the database (a second call does nothing)."""
        self.database.close()

    def _write(self, point: str | None = None) -> AbstractContextManager[sqlite3.Connection]:
        """One atomic, durable write; crash points ``<point>.before`` / ``<point>.after`` (see
        :meth:`instance.database.Database.write`: inside a decision it joins it)."""
        return self.database.write(point)

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.database.read()

    # -- wallets -------------------------------------------------------------------------
    def _move(self, db: sqlite3.Connection, payer: str, payee: str, amount: int) -> None:
        for holder, delta in ((payer, -amount), (payee, amount)):
            db.execute(
                "INSERT INTO wallets VALUES (?, ?) ON CONFLICT(holder) DO UPDATE SET balance = balance + ?",
                (holder, delta, delta),
            )

    def _balance(self, db: sqlite3.Connection, holder: str) -> int:
        row = db.execute("SELECT balance FROM wallets WHERE holder = ?", (holder,)).fetchone()
        return int(row[0]) if row else 0

    def _check_local_process(self, process_id: str, field: str) -> None:
        check_process(process_id, field, local_to=self.m_instance_id)

    def balance(self, holder: str) -> int:
        """The balance of ``holder``'s Wallet (or a ledger account) in minor units (0 if unknown)."""
        with self._read() as db:
            return self._balance(db, holder)

    def paid(self, transaction_id: str) -> bool:
        """Whether the payment of Transaction ``transaction_id`` is already written."""
        with self._read() as db:
            row = db.execute("SELECT 1 FROM payments WHERE transaction_id = ?", (transaction_id,)).fetchone()
        return row is not None

    def pay(self, transaction_id: str, payer: str, payee: str, amount: int) -> None:
        """Move ``amount`` minor units from ``payer``'s Wallet to ``payee``'s for the Transaction
        ``transaction_id`` (MMM-TEC Transact), in one durable write, once: a Transaction already
        paid is not paid again (a replayed or retried decision). Crash points ``wallet.pay.before``
        / ``wallet.pay.after``."""
        with self._write("wallet.pay") as db:
            inserted = db.execute(
                "INSERT INTO payments VALUES (?, ?, ?, ?) ON CONFLICT(transaction_id) DO NOTHING",
                (transaction_id, payer, payee, amount),
            ).rowcount
            if inserted:
                self._move(db, payer, payee, amount)

    def issue(self, transaction_id: str, holder: str, amount: int) -> None:
        """Issue ``amount`` from the treasury to ``holder`` for ``transaction_id`` (once; see :meth:`pay`)."""
        self.pay(transaction_id, TREASURY, holder, amount)

    def wallet(self, holder: str) -> apb.WalletView:
        """A Wallet's (or ledger account's) balance in this M-Instance's currency (0 if unknown)."""
        with self._read() as db:
            return self._wallet(holder, self._balance(db, holder))

    def _wallet(self, holder: str, balance: int) -> apb.WalletView:
        return apb.WalletView(holder=holder, balance=papb.Value(amount_minor=balance, currency_id=self.currency_id))

    def _append_provenance(self, db: sqlite3.Connection, asset_id: str, transaction_json: bytes) -> None:
        """Add a Transaction to an Asset's Provenance (once: a known TransactionID is skipped)."""
        tra = parse_item(transaction_json)
        tra_id = str(tra.doc.get("TransactionID", tra.item_id))
        if db.execute(
            "SELECT 1 FROM provenance WHERE asset_id = ? AND transaction_id = ?", (asset_id, tra_id)
        ).fetchone():
            return
        (seq,) = db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM provenance WHERE asset_id = ?", (asset_id,)
        ).fetchone()
        db.execute("INSERT INTO provenance VALUES (?, ?, ?, ?)", (asset_id, seq, tra_id, transaction_json))
        raw = db.execute("SELECT item_json FROM assets WHERE asset_id = ?", (asset_id,)).fetchone()
        if raw is not None:
            updated = offers.with_provenance(parse_item(bytes(raw[0])), [tra_id])
            db.execute("UPDATE assets SET item_json = ? WHERE asset_id = ?", (updated.raw, asset_id))

    def asset(self, asset_id: str) -> apb.AssetView:
        """The Asset as the ledger holds it; NotFound ``ASSET_NOT_FOUND``."""
        with self._read() as db:
            row = db.execute(
                "SELECT item_json, state, owner, migrated_to, locked_by FROM assets WHERE asset_id = ?", (asset_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no Asset {asset_id[:256]!r} at {self.m_instance_id}", reason="ASSET_NOT_FOUND")
        return asset_view(row)

    def asset_state(self, asset_id: str) -> tuple[str, str] | None:
        """The Asset's :class:`AssetState` and the transfer locking it (``""``: none), or None if
        the ledger holds no such Asset (the World's view of it: ``World.ledger``)."""
        with self._read() as db:
            row = db.execute("SELECT state, locked_by FROM assets WHERE asset_id = ?", (asset_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row is not None else None

    def held_assets(self) -> list[apb.AssetView]:
        """The Assets held here (OWNED or LOCKED; not those that migrated), oldest first: what the
        World adopts when it starts."""
        with self._read() as db:
            rows = db.execute(
                "SELECT item_json, state, owner, migrated_to, locked_by FROM assets WHERE state != ? "
                "ORDER BY created_ms, asset_id",
                (AssetState.MIGRATED,),
            ).fetchall()
        return [asset_view(r) for r in rows]

    def asset_data(self, asset_id: str) -> bytes:
        """The Asset's data; NotFound ``ASSET_NOT_FOUND``."""
        with self._read() as db:
            row = db.execute("SELECT data FROM assets WHERE asset_id = ?", (asset_id,)).fetchone()
        if row is None:
            raise NotFound(f"no Asset {asset_id[:256]!r} at {self.m_instance_id}", reason="ASSET_NOT_FOUND")
        return bytes(row[0])

    def transfer(self, transfer_id: str) -> apb.AssetTransferView:
        """NotFound ``TRANSFER_NOT_FOUND``."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no transfer {transfer_id[:256]!r} at {self.m_instance_id}", reason="TRANSFER_NOT_FOUND")
        return transfer_view(row)


def offers_asset_id(view: apb.AssetView) -> str:
    """The ItemID of the Asset in ``view`` (for messages)."""
    if view.asset.item_json:
        return parse_item(view.asset.item_json).item_id
    return "the Asset"


def asset_view(row: tuple[Any, ...]) -> apb.AssetView:
    """An ``assets`` row (item_json, state, owner, migrated_to, locked_by) as an AssetView."""
    item_json, state, owner, migrated_to, locked_by = row
    return apb.AssetView(
        asset=itpb.ItemEnvelope(item_json=bytes(item_json)),
        state=str(state),
        owner_process_id=str(owner),
        migrated_to=str(migrated_to),
        locked_by=str(locked_by),
    )


def transfer_view(row: tuple[Any, ...]) -> apb.AssetTransferView:
    """A ``transfers`` row (:data:`TRANSFER_COLUMNS`) as an AssetTransferView."""
    (
        tid,
        role,
        state,
        tx_status,
        asset_id,
        dest_asset_id,
        src,
        dst,
        peer,
        offer_raw,
        created,
        updated,
        expires,
        reason,
        message,
        terminal,
        attempts,
    ) = row
    offer = apb.AssetOffer.FromString(bytes(offer_raw)) if offer_raw else apb.AssetOffer()
    return apb.AssetTransferView(
        transfer_id=str(tid),
        role=str(role),
        state=str(state),
        transaction_status=str(tx_status),
        asset_id=str(asset_id),
        destination_asset_id=str(dest_asset_id),
        source_process_id=str(src),
        destination_process_id=str(dst),
        peer_m_instance_id=str(peer),
        exchange=offer.exchange,
        created_ms=int(created),
        updated_ms=int(updated),
        expires_at_ms=int(expires),
        reason=str(reason),
        message=str(message),
        terminal=bool(terminal),
        attempts=int(attempts),
    )


def check_process(process_id: str, field: str, *, local_to: str = "", foreign_to: str = "") -> None:
    """InvalidInput ``BAD_PROCESS_ID`` unless ``process_id`` is a ProcessID of ``local_to`` (or of
    an M-Instance other than ``foreign_to``)."""
    try:
        m_instance = instance_of(process_id)
    except InvalidInput:
        m_instance = ""
    ok = "/processes/" in process_id and (m_instance == local_to if local_to else m_instance not in ("", foreign_to))
    if not ok:
        where = f"a Process of {local_to}" if local_to else "a Process of another M-Instance"
        raise InvalidInput(f"{field} {process_id[:256]!r} is not {where}", reason="BAD_PROCESS_ID")
