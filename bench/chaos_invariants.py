"""The invariants bench/chaos_transfer.py checks after every round (issue 5, item 6), as a pure
function over the ledgers of both M-Instances (``asset_pb2.Ledger``), both gateways'
``ASSET_COMMITTED`` audit counts and what was funded: every Asset lineage has exactly one owner
of record, nothing is stuck, and every account reconciles with the transfers and the funding.

:func:`check_invariants` returns the :class:`Violations` found (keys by counter); it raises
nothing for a violation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.assets import ASSET_COMMITTED
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.items import domain_doc

OWNERS_OF_RECORD = ("OWNED", "LOCKED")
ORIGIN_COMMITTED = ("COMMITTED", "COMPLETED")


@dataclass
class Violations:
    """Keys of violating Assets (lineage root id), transfers or accounts, by counter."""

    duplicated: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    stuck: set[str] = field(default_factory=set)
    unbalanced: set[str] = field(default_factory=set)

    def counters(self) -> dict[str, set[str]]:
        return {"duplicated": self.duplicated, "lost": self.lost, "stuck": self.stuck, "unbalanced": self.unbalanced}


def asset_ids(view: apb.AssetView) -> tuple[str, str]:
    """(ItemID, SourceItemID or "") of an Asset's Item."""
    doc = domain_doc(view.asset.item_json)
    return str(doc["ItemID"]), str(doc.get("SourceItemID") or "")


class _Lineages:
    """Union-find over AssetIDs: an Asset and the Assets it became (migrated_to, SourceItemID)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, x: str, y: str) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def check_invariants(
    ledgers: Mapping[str, apb.Ledger],
    *,
    audit: Mapping[str, Counter[str]],
    funded: Mapping[str, int],
    paid: Mapping[str, int] | None = None,
    registered: Iterable[str] = (),
) -> Violations:
    """The invariants of asset migration over the ledgers of every M-Instance (by id), the
    ``ASSET_COMMITTED`` entries of every gateway's audit log (subject -> count, by gateway) and
    what was issued to each Process (``funded``) and what each received net by Transact (``paid``).
    ``registered``: AssetIDs minted (none may vanish).

    * duplicated: an Asset's lineage (the Asset and what it became at other M-Instances) with
      more than one owner of record (OWNED or LOCKED); lost: with none, or a migrated_to pointer
      to no Asset, or a minted Asset that no ledger holds.
    * stuck: a transfer not terminal, or an Asset LOCKED by a terminal (or unknown) transfer.
    * unbalanced: an M-Instance's balances do not sum to 0; a Wallet, fee, escrow or settlement
      account differs from what the committed transfers and the funding make it; a committed
      transfer not audited exactly once by each gateway, or an aborted one audited as committed.

    Lineages touched by a transfer that is not terminal are left out (it is counted as stuck).
    """
    out = Violations()
    assets: dict[str, apb.AssetView] = {}
    lineages = _Lineages()
    origin_rows: dict[str, apb.AssetTransferView] = {}
    busy_assets: set[str] = set()
    derived: set[str] = set()  # Assets made at a destination from another M-Instance's Asset
    for m_id, ledger in ledgers.items():
        for t in ledger.transfers:
            if t.role == "origin":
                origin_rows[t.transfer_id] = t
            if not t.terminal:
                out.stuck.add(f"transfer {t.transfer_id} not terminal at {m_id} ({t.role})")
                busy_assets.update(x for x in (t.asset_id, t.destination_asset_id) if x)
        for view in ledger.assets:
            item_id, source = asset_ids(view)
            assets[item_id] = view
            lineages.find(item_id)
            if source:
                derived.add(item_id)
                lineages.union(item_id, source)
            if view.migrated_to:
                lineages.union(item_id, view.migrated_to)
    for item_id, view in assets.items():
        lock = origin_rows.get(view.locked_by)
        if view.state == "LOCKED" and (lock is None or lock.terminal):
            out.stuck.add(f"asset {item_id} LOCKED by {view.locked_by or '?'}")
    _check_lineages(out, assets, lineages, derived, busy_assets, registered)
    _check_money(out, ledgers, origin_rows, funded, paid or {})
    _check_audit(out, origin_rows, audit)
    return out


def _check_lineages(
    out: Violations,
    assets: Mapping[str, apb.AssetView],
    lineages: _Lineages,
    derived: set[str],
    busy: set[str],
    registered: Iterable[str],
) -> None:
    members: dict[str, list[str]] = {}
    for item_id in lineages.parent:
        members.setdefault(lineages.find(item_id), []).append(item_id)
    for ids in members.values():
        if busy & set(ids):
            continue
        minted = [i for i in ids if i in assets and i not in derived]
        root = min(minted or ids)  # the Asset as first minted: the same key whatever it became since
        owners = [i for i in ids if i in assets and assets[i].state in OWNERS_OF_RECORD]
        dangling = [i for i in ids if i in assets and assets[i].migrated_to and assets[i].migrated_to not in assets]
        if len(owners) > 1:
            out.duplicated.add(f"asset {root}: owners of record {sorted(owners)}")
        if not owners:
            out.lost.add(f"asset {root}: no owner of record")
        elif dangling:
            out.lost.add(f"asset {root}: migrated_to points to no Asset, from {sorted(dangling)}")
    for asset_id in registered:
        if asset_id not in assets:
            out.lost.add(f"asset {asset_id}: minted, held by no ledger")


def _check_money(
    out: Violations,
    ledgers: Mapping[str, apb.Ledger],
    origin_rows: Mapping[str, apb.AssetTransferView],
    funded: Mapping[str, int],
    paid: Mapping[str, int],
) -> None:
    """Every account of every ledger against the funding, the Transact payments and the
    transfers (each write moves the journal and the Wallets together, so this holds at every
    instant, in flight or not)."""
    for m_id, ledger in ledgers.items():
        balances = {w.holder: w.balance.amount_minor for w in ledger.wallets}
        total = sum(balances.values())
        if total:
            out.unbalanced.add(f"{m_id}: balances sum to {total}, not 0")
        expected: Counter[str] = Counter()
        issued = sum(v for k, v in funded.items() if k.startswith(f"mmm://{m_id}/"))
        expected["treasury"] = -issued
        for holder, amount in (*funded.items(), *paid.items()):
            if holder.startswith(f"mmm://{m_id}/"):
                expected[holder] += amount
        for t in ledger.transfers:
            ex = t.exchange
            if t.role == "origin" and t.state in ORIGIN_COMMITTED:
                expected[t.source_process_id] -= ex.paid.amount_minor
                expected["exchange-fees"] += ex.fee.amount_minor
                expected[f"settlement:{t.peer_m_instance_id}"] += ex.paid.amount_minor - ex.fee.amount_minor
            elif t.role == "origin" and not t.terminal and t.state == "PENDING":
                expected[t.source_process_id] -= ex.paid.amount_minor
                expected["escrow"] += ex.paid.amount_minor
            elif t.role == "destination" and t.state == "COMMITTED":
                # what the origin recorded it sent, if its journal is at hand
                sent = origin_rows.get(t.transfer_id, t).exchange.received.amount_minor
                if sent != ex.received.amount_minor:
                    out.unbalanced.add(
                        f"transfer {t.transfer_id}: origin sent {sent}, {m_id} recorded {ex.received.amount_minor}"
                    )
                expected[t.destination_process_id] += sent
                expected[f"settlement:{t.peer_m_instance_id}"] -= sent
        for holder in sorted(set(expected) | set(balances)):
            if balances.get(holder, 0) != expected.get(holder, 0):
                out.unbalanced.add(
                    f"{m_id} {holder}: balance {balances.get(holder, 0)}, expected {expected.get(holder, 0)}"
                )


def _check_audit(
    out: Violations, origin_rows: Mapping[str, apb.AssetTransferView], audit: Mapping[str, Counter[str]]
) -> None:
    for tid, t in origin_rows.items():
        if not t.terminal:
            continue
        want = 1 if t.state in ORIGIN_COMMITTED else 0
        for gateway, counts in audit.items():
            if counts.get(tid, 0) != want:
                out.unbalanced.add(f"transfer {tid} ({t.state}): {counts.get(tid, 0)} {ASSET_COMMITTED} at {gateway}")
