"""The asset ledger of one M-Instance: owner of record of its Assets, its Wallets, and the
journal of asset transfers on both sides (FGMV-43 9.2, ASIR-103).

One SQLite file (WAL, ``synchronous=FULL``): every state change of a transfer is ONE transaction
that changes the journal, the Asset and the Wallets together, so a crash (SIGKILL, power cut)
leaves either the state before or the state after, never a mix. Crash points
(:mod:`mmmfed.crashpoints`) sit right before and after each of these writes.

Origin journal states: ``PENDING`` (Asset LOCKED, payment held in ``escrow``) -> ``COMMITTED``
(Asset MIGRATED with its new home; the payment settled) -> ``COMPLETED`` once the destination
acknowledged; or ``PENDING`` -> ``ABORTING`` (Asset unlocked, payment refunded) -> ``CANCELLED``
or ``FAILED`` (expired) once acknowledged. Destination: ``STAGED`` (held, not owned) ->
``COMMITTED`` (the Asset is owned here, the payee credited) or ``ABORTED``; an ABORT for a
transfer never staged leaves an ``ABORTED`` tombstone, so a late offer is refused.

Money is integers in minor units of this M-Instance's currency. Ledger accounts beside the
Processes' Wallets: ``treasury`` (issues currency; its balance is minus what was issued),
``escrow`` (payments of transfers in flight), ``exchange-fees`` (declared ASEF fees) and
``settlement:<peer>`` (what crossed to or from that peer). The sum of all balances is always 0.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from instance.assets import offers
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.crashpoints import crashpoint
from mmmfed.errors import AlreadyExists, FailedPrecondition, InvalidInput, NotFound, PermissionDenied
from mmmfed.items import DataBinding, instance_of, new_id, parse_item, sha256_hex

TREASURY, ESCROW, FEES = "treasury", "escrow", "exchange-fees"
OWNED, LOCKED, MIGRATED = "OWNED", "LOCKED", "MIGRATED"
# origin states
PENDING, COMMITTED, COMPLETED, ABORTING, CANCELLED, FAILED = (
    "PENDING",
    "COMMITTED",
    "COMPLETED",
    "ABORTING",
    "CANCELLED",
    "FAILED",
)
# destination states
STAGED, ABORTED = "STAGED", "ABORTED"
ORIGIN, DESTINATION = "origin", "destination"
MAX_ASSET_BYTES = 8 * 1024 * 1024

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
CREATE TABLE IF NOT EXISTS provenance (
    asset_id TEXT NOT NULL, seq INTEGER NOT NULL, transaction_id TEXT NOT NULL, item_json BLOB NOT NULL,
    PRIMARY KEY (asset_id, seq), UNIQUE (asset_id, transaction_id));
"""

_TRANSFER_COLUMNS = (
    "transfer_id, role, state, tx_status, asset_id, destination_asset_id, source_process_id, "
    "destination_process_id, peer, offer, created_ms, updated_ms, expires_ms, reason, message, terminal, attempts"
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def settlement(peer_id: str) -> str:
    """The ledger account of what crossed between this M-Instance and ``peer_id``."""
    return f"settlement:{peer_id}"


class AssetLedger:
    """The ledger in ``<data_dir>/assets.sqlite3``. Thread-safe; every method is one short
    transaction (call from a worker thread in async code). Errors leave nothing written."""

    def __init__(
        self, path: Path, *, m_instance_id: str, currency_id: str, clock_ms: Callable[[], int] = _now_ms
    ) -> None:
        self.m_instance_id = m_instance_id
        self.currency_id = currency_id
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self, point: str | None = None) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write; crash points ``<point>.before`` / ``<point>.after``."""
        if point:
            crashpoint(f"{point}.before")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if point:
            crashpoint(f"{point}.after")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

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
        try:
            local = instance_of(process_id) == self.m_instance_id and "/processes/" in process_id
        except InvalidInput:
            local = False
        if not local:
            raise InvalidInput(
                f"{field} {process_id[:256]!r} is not a Process of {self.m_instance_id}", reason="BAD_PROCESS_ID"
            )

    def fund(self, holder_process_id: str, amount: int) -> apb.WalletView:
        """Issue ``amount`` minor units from the treasury to a Process's Wallet. InvalidInput
        ``BAD_PROCESS_ID`` / ``AMOUNT_INVALID``."""
        self._check_local_process(holder_process_id, "holder_process_id")
        if not 1 <= amount <= 2**53 - 1:
            raise InvalidInput(f"amount must be in [1, 2^53-1] minor units, not {amount}", reason="AMOUNT_INVALID")
        with self._write() as db:
            self._move(db, TREASURY, holder_process_id, amount)
            balance = self._balance(db, holder_process_id)
        return self._wallet(holder_process_id, balance)

    def wallet(self, holder: str) -> apb.WalletView:
        with self._read() as db:
            return self._wallet(holder, self._balance(db, holder))

    def _wallet(self, holder: str, balance: int) -> apb.WalletView:
        return apb.WalletView(holder=holder, balance=papb.Value(amount_minor=balance, currency_id=self.currency_id))

    # -- assets --------------------------------------------------------------------------
    def register_asset(self, request: apb.RegisterAssetRequest) -> apb.AssetView:
        """Mint an ASS Item owned by ``owner_process_id`` (9.2 step 1), with a first, Final
        Transaction in its Provenance. InvalidInput ``BAD_PROCESS_ID``, ``ASSET_MALFORMED``;
        RESOURCE_EXHAUSTED is not used: data over 8 MiB is InvalidInput ``ASSET_TOO_LARGE``."""
        owner = request.owner_process_id
        self._check_local_process(owner, "owner_process_id")
        if len(request.data) > MAX_ASSET_BYTES:
            raise InvalidInput(f"Asset data is limited to {MAX_ASSET_BYTES} bytes", reason="ASSET_TOO_LARGE")
        qualifier = {"SubType": request.sub_type or "Model"}
        if request.format:
            qualifier["Format"] = request.format
        data = (
            DataBinding(len(request.data), sha256_hex(request.data), request.media_type or "application/octet-stream")
            if request.data
            else None
        )
        asset_id = new_id(self.m_instance_id, "assets")
        mint = offers.transaction_item(
            m_instance_id=self.m_instance_id,
            transaction_id=new_id(self.m_instance_id, "transactions"),
            payer_process_id=owner,
            payee_process_id=owner,
            value=(0, self.currency_id),
            status="Final",
            asset_id=asset_id,
        )
        price = None
        if request.price.amount_minor:
            price = {
                "Price": {
                    "Amount": request.price.amount_minor,
                    "CurrencyID": request.price.currency_id or self.currency_id,
                }
            }
        item = offers.asset_item(
            m_instance_id=self.m_instance_id,
            asset_id=asset_id,
            owner_process_id=owner,
            qualifier=qualifier,
            data=data,
            currency_id=self.currency_id,
            provenance=[mint.item_id],
            market_class=request.market_class,
            value_metadata=price,
            descr={"Title": request.title} if request.title else None,
        )
        from mmmfed.schemas import validate_item  # the Item we mint must match its own schema

        try:
            validate_item(item.doc)
        except InvalidInput as err:
            raise InvalidInput(err.message, reason="ASSET_MALFORMED") from err
        with self._write() as db:
            db.execute(
                "INSERT INTO assets VALUES (?, ?, ?, ?, ?, '', '', ?)",
                (asset_id, item.raw, request.data, OWNED, owner, self._clock_ms()),
            )
            db.execute("INSERT INTO provenance VALUES (?, 1, ?, ?)", (asset_id, mint.item_id, mint.raw))
        return self.asset(asset_id)

    def asset(self, asset_id: str) -> apb.AssetView:
        """NotFound ``ASSET_NOT_FOUND``."""
        with self._read() as db:
            row = db.execute(
                "SELECT item_json, state, owner, migrated_to, locked_by FROM assets WHERE asset_id = ?", (asset_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no Asset {asset_id[:256]!r} at {self.m_instance_id}", reason="ASSET_NOT_FOUND")
        return _asset_view(row)

    def asset_data(self, asset_id: str) -> bytes:
        with self._read() as db:
            row = db.execute("SELECT data FROM assets WHERE asset_id = ?", (asset_id,)).fetchone()
        if row is None:
            raise NotFound(f"no Asset {asset_id[:256]!r} at {self.m_instance_id}", reason="ASSET_NOT_FOUND")
        return bytes(row[0])

    def history(self, asset_id: str) -> apb.AssetHistoryResponse:
        """ASIR-103/105: the Asset, its Provenance (Transactions, oldest first) and its transfers."""
        view = self.asset(asset_id)
        with self._read() as db:
            prov = db.execute(
                "SELECT item_json FROM provenance WHERE asset_id = ? ORDER BY seq", (asset_id,)
            ).fetchall()
            rows = db.execute(
                f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE asset_id = ? OR destination_asset_id = ? "
                "ORDER BY created_ms",
                (asset_id, asset_id),
            ).fetchall()
        return apb.AssetHistoryResponse(
            asset=view,
            provenance=[itpb.ItemEnvelope(item_json=bytes(r[0])) for r in prov],
            transfers=[_transfer_view(r) for r in rows],
        )

    def snapshot(self) -> apb.Ledger:
        """Everything: Assets, Wallets (ledger accounts included) and transfers."""
        with self._read() as db:
            assets = db.execute(
                "SELECT item_json, state, owner, migrated_to, locked_by FROM assets ORDER BY created_ms, asset_id"
            ).fetchall()
            wallets = db.execute("SELECT holder, balance FROM wallets ORDER BY holder").fetchall()
            transfers = db.execute(f"SELECT {_TRANSFER_COLUMNS} FROM transfers ORDER BY created_ms").fetchall()
        return apb.Ledger(
            m_instance_id=self.m_instance_id,
            currency_id=self.currency_id,
            assets=[_asset_view(r) for r in assets],
            wallets=[self._wallet(h, b) for h, b in wallets],
            transfers=[_transfer_view(r) for r in transfers],
        )

    # -- transfers: both sides -----------------------------------------------------------
    def transfer(self, transfer_id: str) -> apb.AssetTransferView:
        """NotFound ``TRANSFER_NOT_FOUND``."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no transfer {transfer_id[:256]!r} at {self.m_instance_id}", reason="TRANSFER_NOT_FOUND")
        return _transfer_view(row)

    def offer_of(self, transfer_id: str) -> apb.AssetOffer:
        """The offer recorded for an origin transfer (as begun: resent unchanged)."""
        with self._read() as db:
            row = db.execute("SELECT offer FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        if row is None:
            raise NotFound(f"no transfer {transfer_id[:256]!r}", reason="TRANSFER_NOT_FOUND")
        return apb.AssetOffer.FromString(bytes(row[0]))

    def record(self, transfer_id: str) -> apb.AssetTransferRecord:
        """An origin transfer as journalled, with its Asset's data: what this M-Instance's gateway
        may sign for it (issue 12 item 3). NotFound ``TRANSFER_NOT_FOUND`` (also for a transfer
        of which this M-Instance is the destination)."""
        view = self.transfer(transfer_id)
        if view.role != ORIGIN:
            raise NotFound(f"no transfer {transfer_id[:256]!r} from {self.m_instance_id}", reason="TRANSFER_NOT_FOUND")
        offer = self.offer_of(transfer_id)
        with self._read() as db:
            row = db.execute("SELECT data FROM assets WHERE asset_id = ?", (view.asset_id,)).fetchone()
        offer.asset_data = bytes(row[0]) if row else b""
        return apb.AssetTransferRecord(view=view, offer=offer, transaction_json=self.transaction_of(transfer_id))

    def transaction_of(self, transfer_id: str) -> bytes:
        with self._read() as db:
            row = db.execute("SELECT transaction_json FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        return bytes(row[0]) if row else b""

    def unfinished_origin_transfers(self) -> list[str]:
        """Origin transfers whose decision the destination has not acknowledged yet (recovery)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT transfer_id FROM transfers WHERE role = ? AND terminal = 0 ORDER BY created_ms", (ORIGIN,)
            ).fetchall()
        return [r[0] for r in rows]

    def count_attempt(self, transfer_id: str) -> None:
        """One more send of this transfer's offer or decision (informational, not crash-relevant)."""
        with self._write() as db:
            db.execute(
                "UPDATE transfers SET attempts = attempts + 1, updated_ms = ? WHERE transfer_id = ?",
                (self._clock_ms(), transfer_id),
            )

    # -- origin --------------------------------------------------------------------------
    def begin(
        self,
        *,
        transfer_id: str,
        asset_id: str,
        source_process_id: str,
        destination_process_id: str,
        payment: Callable[[], apb.ExchangeRecord] | None,
        payment_amount: int,
        timeout_ms: int,
    ) -> apb.AssetTransferView:
        """9.2 step 2: journal the transfer PENDING, lock the Asset and hold the payment in escrow,
        in one write. Idempotent: the same ``transfer_id`` with the same request returns the
        transfer as it is now.

        ``payment`` gives the exchange record for ``payment_amount`` (ASEF); it raises its own
        errors (``NO_EXCHANGE_POLICY``, ``AMOUNT_*``). Raises AlreadyExists ``TRANSFER_ID_REUSED``,
        NotFound ``ASSET_NOT_FOUND``, PermissionDenied ``NO_TRANSACT_RIGHT`` (the source holds no
        Transact Right in the Asset's ICapabilities, or is not its owner of record),
        FailedPrecondition ``ASSET_LOCKED`` / ``ASSET_MIGRATED`` / ``INSUFFICIENT_FUNDS``,
        InvalidInput ``BAD_PROCESS_ID`` (the destination is not a Process of another M-Instance).
        """
        self._check_local_process(source_process_id, "source_process_id")
        try:
            peer = instance_of(destination_process_id)
        except InvalidInput as err:
            raise InvalidInput(err.message, reason="BAD_PROCESS_ID") from err
        if peer == self.m_instance_id or "/processes/" not in destination_process_id:
            raise InvalidInput(
                f"destination_process_id {destination_process_id[:256]!r} is not a Process of another M-Instance",
                reason="BAD_PROCESS_ID",
            )
        request_digest = sha256_hex(
            "\n".join([asset_id, source_process_id, destination_process_id, str(payment_amount)]).encode()
        )
        existing = self._existing(transfer_id, request_digest)
        if existing is not None:
            return existing
        view = self.asset(asset_id)
        item = parse_item(view.asset.item_json)
        rights = {
            r
            for cap in item.doc.get("ICapabilities", [])
            if cap.get("ProcessID") == source_process_id
            for r in cap.get("Rights", [])
        }
        holder = view.owner_process_id == source_process_id or view.state == MIGRATED  # MIGRATED: said below
        if "Transact" not in rights or not holder:
            raise PermissionDenied(
                f"{source_process_id} holds no Transact Right on {asset_id}", reason="NO_TRANSACT_RIGHT"
            )
        self._check_transferable(view)
        record = payment() if payment is not None and payment_amount else apb.ExchangeRecord()
        now = self._clock_ms()
        offer = apb.AssetOffer(
            transfer_id=transfer_id,
            source_process_id=source_process_id,
            destination_process_id=destination_process_id,
            asset=view.asset,
            exchange=record,
            expires_at_ms=now + timeout_ms,
        )
        offer.content_digest = offers.content_digest(offer)
        with self._write("origin.begin") as db:
            if self._existing_in(db, transfer_id, request_digest) is not None:
                pass  # a concurrent call with this id won the race: it is the same transfer
            else:
                state = db.execute("SELECT state, owner FROM assets WHERE asset_id = ?", (asset_id,)).fetchone()
                self._check_transferable(apb.AssetView(state=state[0], owner_process_id=state[1]), asset_id=asset_id)
                paid = record.paid.amount_minor
                if paid and self._balance(db, source_process_id) < paid:
                    raise FailedPrecondition(
                        f"{source_process_id} has {self._balance(db, source_process_id)} {self.currency_id} "
                        f"minor units, {paid} needed",
                        reason="INSUFFICIENT_FUNDS",
                    )
                if paid:
                    self._move(db, source_process_id, ESCROW, paid)
                db.execute(
                    "UPDATE assets SET state = ?, locked_by = ? WHERE asset_id = ?", (LOCKED, transfer_id, asset_id)
                )
                db.execute(
                    "INSERT INTO transfers (transfer_id, role, state, tx_status, asset_id, destination_asset_id, "
                    "source_process_id, destination_process_id, peer, request_digest, content_digest, offer, "
                    "created_ms, updated_ms, expires_ms) VALUES (?, ?, ?, 'Pending', ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        transfer_id,
                        ORIGIN,
                        PENDING,
                        asset_id,
                        source_process_id,
                        destination_process_id,
                        peer,
                        request_digest,
                        offer.content_digest,
                        offer.SerializeToString(),
                        now,
                        now,
                        offer.expires_at_ms,
                    ),
                )
        return self.transfer(transfer_id)

    def _check_transferable(self, view: apb.AssetView, *, asset_id: str = "") -> None:
        name = asset_id or offers_asset_id(view)
        if view.state == LOCKED:
            raise FailedPrecondition(
                f"{name} is locked by transfer {view.locked_by or 'in flight'}", reason="ASSET_LOCKED"
            )
        if view.state == MIGRATED:
            raise FailedPrecondition(
                f"{name} has migrated to {view.migrated_to or 'another M-Instance'}", reason="ASSET_MIGRATED"
            )

    def _existing(self, transfer_id: str, request_digest: str) -> apb.AssetTransferView | None:
        with self._read() as db:
            return self._existing_in(db, transfer_id, request_digest)

    def _existing_in(
        self, db: sqlite3.Connection, transfer_id: str, request_digest: str
    ) -> apb.AssetTransferView | None:
        row = db.execute("SELECT request_digest FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
        if row is None:
            return None
        if row[0] != request_digest:
            raise AlreadyExists(
                f"transfer id {transfer_id} names another transfer; use a new id", reason="TRANSFER_ID_REUSED"
            )
        found = db.execute(
            f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE transfer_id = ?", (transfer_id,)
        ).fetchone()
        return _transfer_view(found)

    def decide_commit(self, transfer_id: str, *, destination_asset_id: str, transaction_json: bytes) -> None:
        """The destination staged it: COMMIT. The Asset becomes MIGRATED (pointer to its new home),
        the escrowed payment goes to the exchange fee and the peer's settlement account. No-op
        unless the transfer is PENDING."""
        with self._write("origin.decide") as db:
            row = db.execute(
                "SELECT state, asset_id, offer, peer FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row[0] != PENDING:
                return
            offer = apb.AssetOffer.FromString(bytes(row[2]))
            paid, fee = offer.exchange.paid.amount_minor, offer.exchange.fee.amount_minor
            if paid:
                self._move(db, ESCROW, FEES, fee)
                self._move(db, ESCROW, settlement(row[3]), paid - fee)
            db.execute(
                "UPDATE assets SET state = ?, owner = '', migrated_to = ?, locked_by = '' WHERE asset_id = ?",
                (MIGRATED, destination_asset_id, row[1]),
            )
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = 'Final', destination_asset_id = ?, transaction_json = ?, "
                "updated_ms = ? WHERE transfer_id = ?",
                (COMMITTED, destination_asset_id, transaction_json, self._clock_ms(), transfer_id),
            )

    def decide_abort(self, transfer_id: str, *, tx_status: str, reason: str, message: str) -> None:
        """ABORT (refused, expired or cancelled): unlock the Asset and refund the payment.
        ``tx_status`` is the Transaction status: Rejected, Failed or Cancelled. No-op unless PENDING."""
        with self._write("origin.decide") as db:
            row = db.execute(
                "SELECT state, asset_id, offer, source_process_id FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row[0] != PENDING:
                return
            offer = apb.AssetOffer.FromString(bytes(row[2]))
            if offer.exchange.paid.amount_minor:
                self._move(db, ESCROW, row[3], offer.exchange.paid.amount_minor)
            db.execute(
                "UPDATE assets SET state = ?, locked_by = '' WHERE asset_id = ? AND locked_by = ?",
                (OWNED, row[1], transfer_id),
            )
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = ?, reason = ?, message = ?, updated_ms = ? "
                "WHERE transfer_id = ?",
                (ABORTING, tx_status, reason, message[:1024], self._clock_ms(), transfer_id),
            )

    def acknowledged(self, transfer_id: str, *, transaction_json: bytes = b"") -> None:
        """The destination acknowledged the decision: COMMITTED -> COMPLETED (the signed
        Transaction joins the Asset's Provenance here too), ABORTING -> CANCELLED or FAILED."""
        with self._write("origin.ack") as db:
            row = db.execute(
                "SELECT state, asset_id, tx_status FROM transfers WHERE transfer_id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row[0] not in (COMMITTED, ABORTING):
                return
            if row[0] == COMMITTED:
                if transaction_json:
                    self._append_provenance(db, row[1], transaction_json)
                state = COMPLETED
            else:
                state = FAILED if row[2] == "Failed" else CANCELLED
            db.execute(
                "UPDATE transfers SET state = ?, terminal = 1, updated_ms = ? WHERE transfer_id = ?",
                (state, self._clock_ms(), transfer_id),
            )

    def give_up(self, transfer_id: str, *, reason: str, message: str) -> None:
        """An ABORT that can never be delivered (the peer is not configured any more, issue 12
        item 8): ABORTING -> FAILED, terminal. The Asset was unlocked and the payment refunded
        when the abort was decided; no-op in any other state."""
        with self._write("origin.ack") as db:
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = 'Failed', terminal = 1, reason = ?, message = ?, "
                "updated_ms = ? WHERE transfer_id = ? AND state = ?",
                (FAILED, reason, message[:1024], self._clock_ms(), transfer_id, ABORTING),
            )

    def _append_provenance(self, db: sqlite3.Connection, asset_id: str, transaction_json: bytes) -> None:
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

    # -- destination ---------------------------------------------------------------------
    def stage(
        self, offer: apb.AssetOffer, *, origin: str, staged_item: bytes, destination_asset_id: str
    ) -> apb.AssetOfferAck:
        """9.2 step 6: hold the offered Asset (not owned yet) under its transfer id. A known
        transfer id with the same content digest returns the recorded state (``duplicate``);
        with another digest AlreadyExists ``TRANSFER_ID_REUSED``. The caller checked the offer
        (verification, acceptance, expiry) before."""
        with self._read() as db:
            known = self._dest_known(db, offer.transfer_id, offer.content_digest)
        if known is not None:
            return known
        with self._write("destination.stage") as db:
            known = self._dest_known(db, offer.transfer_id, offer.content_digest)
            if known is not None:
                return known
            now = self._clock_ms()
            item = offers.origin_item(parse_item(offer.asset.item_json))
            db.execute(
                "INSERT INTO transfers (transfer_id, role, state, tx_status, asset_id, destination_asset_id, "
                "source_process_id, destination_process_id, peer, request_digest, content_digest, offer, staged_item, "
                "created_ms, updated_ms, expires_ms) VALUES (?, ?, ?, 'Pending', ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
                (
                    offer.transfer_id,
                    DESTINATION,
                    STAGED,
                    item.item_id,
                    destination_asset_id,
                    offer.source_process_id,
                    offer.destination_process_id,
                    origin,
                    offer.content_digest,
                    offer.SerializeToString(),
                    staged_item,
                    now,
                    now,
                    offer.expires_at_ms,
                ),
            )
        return apb.AssetOfferAck(transfer_id=offer.transfer_id, state=STAGED, destination_asset_id=destination_asset_id)

    def known_offer(self, transfer_id: str, digest: str) -> apb.AssetOfferAck | None:
        """The recorded answer to an offer already received (``duplicate``), or None if new;
        AlreadyExists ``TRANSFER_ID_REUSED`` when the id names other content."""
        with self._read() as db:
            return self._dest_known(db, transfer_id, digest)

    def _dest_known(self, db: sqlite3.Connection, transfer_id: str, digest: str) -> apb.AssetOfferAck | None:
        row = db.execute(
            "SELECT role, state, content_digest, destination_asset_id FROM transfers WHERE transfer_id = ?",
            (transfer_id,),
        ).fetchone()
        if row is None:
            return None
        if row[0] != DESTINATION or (row[2] and row[2] != digest):
            raise AlreadyExists(f"transfer id {transfer_id} names another transfer", reason="TRANSFER_ID_REUSED")
        return apb.AssetOfferAck(transfer_id=transfer_id, state=row[1], destination_asset_id=row[3], duplicate=True)

    def apply_decision(
        self, decision: apb.AssetDecision, *, origin: str, transaction_json: bytes
    ) -> apb.AssetDecisionAck:
        """9.2 step 7: COMMIT makes the staged Asset owned here by the destination Process (the
        signed Transaction joins its Provenance; the payee is credited from the origin's
        settlement account); ABORT drops it (or leaves a tombstone for a transfer never staged).
        A repeated decision returns the recorded outcome (``duplicate``). FailedPrecondition
        ``TRANSFER_UNKNOWN`` (COMMIT of a transfer never staged), ``DECISION_CONFLICT``
        (the opposite decision was recorded), AlreadyExists ``TRANSFER_ID_REUSED``, PermissionDenied
        ``ORIGIN_MISMATCH`` when ``origin`` is not the M-Instance that offered (or tombstoned) it."""
        commit = decision.decision == apb.ASSET_DECISION_KIND_COMMIT
        wanted = COMMITTED if commit else ABORTED
        with self._write("destination.decide") as db:
            row = db.execute(
                "SELECT role, state, content_digest, offer, staged_item, destination_asset_id, destination_process_id, "
                "transaction_json, peer FROM transfers WHERE transfer_id = ?",
                (decision.transfer_id,),
            ).fetchone()
            now = self._clock_ms()
            if row is None:
                if commit:
                    raise FailedPrecondition(
                        f"transfer {decision.transfer_id} was never staged here", reason="TRANSFER_UNKNOWN"
                    )
                db.execute(
                    "INSERT INTO transfers (transfer_id, role, state, tx_status, asset_id, destination_asset_id, "
                    "source_process_id, destination_process_id, peer, request_digest, content_digest, offer, "
                    "created_ms, updated_ms, expires_ms, terminal, reason) VALUES "
                    "(?, ?, ?, 'Cancelled', '', '', '', '', ?, '', ?, x'', ?, ?, 0, 1, 'ABORTED_BEFORE_STAGED')",
                    (decision.transfer_id, DESTINATION, ABORTED, origin, decision.content_digest, now, now),
                )
                return apb.AssetDecisionAck(transfer_id=decision.transfer_id, state=ABORTED)
            role, state, digest, offer_raw, staged, dest_asset_id, payee, recorded_tra, peer = row
            if role == DESTINATION and peer != origin:  # staged or tombstoned for another origin
                raise PermissionDenied(
                    f"{origin} did not offer transfer {decision.transfer_id}", reason="ORIGIN_MISMATCH"
                )
            if role != DESTINATION or (digest and digest != decision.content_digest):
                raise AlreadyExists(
                    f"transfer id {decision.transfer_id} names another transfer", reason="TRANSFER_ID_REUSED"
                )
            if state == wanted:
                return apb.AssetDecisionAck(
                    transfer_id=decision.transfer_id,
                    state=state,
                    duplicate=True,
                    transaction=itpb.ItemEnvelope(item_json=bytes(recorded_tra)),
                )
            if state != STAGED:
                raise FailedPrecondition(
                    f"transfer {decision.transfer_id} is already {state}; {wanted} conflicts",
                    reason="DECISION_CONFLICT",
                )
            if commit:
                offer = apb.AssetOffer.FromString(bytes(offer_raw))
                received = offer.exchange.received.amount_minor
                if received:
                    self._move(db, settlement(origin), payee, received)
                db.execute(
                    "INSERT INTO assets VALUES (?, ?, ?, ?, ?, '', '', ?)",
                    (dest_asset_id, bytes(staged), offer.asset_data, OWNED, payee, now),
                )
                self._append_provenance(db, dest_asset_id, transaction_json)
            db.execute(
                "UPDATE transfers SET state = ?, tx_status = ?, terminal = 1, transaction_json = ?, updated_ms = ? "
                "WHERE transfer_id = ?",
                (
                    wanted,
                    "Final" if commit else "Cancelled",
                    transaction_json if commit else b"",
                    now,
                    decision.transfer_id,
                ),
            )
        return apb.AssetDecisionAck(
            transfer_id=decision.transfer_id,
            state=wanted,
            transaction=itpb.ItemEnvelope(item_json=transaction_json if commit else b""),
        )

    def staged_offer(self, transfer_id: str) -> apb.AssetOffer | None:
        with self._read() as db:
            row = db.execute(
                "SELECT offer FROM transfers WHERE transfer_id = ? AND role = ?", (transfer_id, DESTINATION)
            ).fetchone()
        return apb.AssetOffer.FromString(bytes(row[0])) if row and row[0] else None


def offers_asset_id(view: apb.AssetView) -> str:
    if view.asset.item_json:
        return parse_item(view.asset.item_json).item_id
    return "the Asset"


def _asset_view(row: tuple[object, ...]) -> apb.AssetView:
    item_json, state, owner, migrated_to, locked_by = row
    return apb.AssetView(
        asset=itpb.ItemEnvelope(item_json=bytes(item_json)),  # type: ignore[arg-type]
        state=str(state),
        owner_process_id=str(owner),
        migrated_to=str(migrated_to),
        locked_by=str(locked_by),
    )


def _transfer_view(row: tuple[object, ...]) -> apb.AssetTransferView:
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
    offer = apb.AssetOffer.FromString(bytes(offer_raw)) if offer_raw else apb.AssetOffer()  # type: ignore[arg-type]
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
        created_ms=int(created),  # type: ignore[call-overload]
        updated_ms=int(updated),  # type: ignore[call-overload]
        expires_at_ms=int(expires),  # type: ignore[call-overload]
        reason=str(reason),
        message=str(message),
        terminal=bool(terminal),
        attempts=int(attempts),  # type: ignore[call-overload]
    )
