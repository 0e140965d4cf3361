"""Crash testing of asset migration (issue 5, item 6): the invariant checker of
bench/chaos_transfer.py (in bench/chaos_invariants.py) on fabricated ledgers, and a short run of
the harness against real node processes killed at every crash point."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sample_assets import needs_samples

from bench.chaos_driver import ALL_POINTS
from bench.chaos_invariants import Violations, check_invariants
from instance.assets.offers import asset_item
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import process_action_pb2 as papb

REPO = Path(__file__).resolve().parents[2]
A, B = "a.example", "b.example"
P1, Q1 = f"mmm://{A}/processes/p1", f"mmm://{B}/processes/q1"
A1, A2, B1 = f"mmm://{A}/assets/1", f"mmm://{A}/assets/2", f"mmm://{B}/assets/1"
T1 = "urn:uuid:t1"
FUNDED = {P1: 1000, Q1: 1000}


def _asset(item_id: str, state: str, *, owner: str = "", source: str = "", migrated_to: str = "", locked_by: str = ""):
    item = asset_item(
        m_instance_id=item_id.split("/")[2],
        asset_id=item_id,
        owner_process_id=owner or P1,
        qualifier={"SubType": "Model", "Format": "glTF/2.0-binary"},
        data=None,
        currency_id="ACU",
        provenance=[],
        source_item_id=source or None,
    )
    return apb.AssetView(
        asset=itpb.ItemEnvelope(item_json=item.raw),
        state=state,
        owner_process_id=owner,
        migrated_to=migrated_to,
        locked_by=locked_by,
    )


def _wallets(currency: str, balances: dict[str, int]) -> list[apb.WalletView]:
    value = papb.Value
    return [apb.WalletView(holder=h, balance=value(amount_minor=v, currency_id=currency)) for h, v in balances.items()]


def _exchange() -> apb.ExchangeRecord:
    return apb.ExchangeRecord(
        paid=papb.Value(amount_minor=100, currency_id="ACU"),
        fee=papb.Value(amount_minor=1, currency_id="ACU"),
        received=papb.Value(amount_minor=148, currency_id="BCU"),
    )


def _committed_pair() -> dict[str, apb.Ledger]:
    """a1 moved from a.example to b.example (now b1, owned by q1) with a payment of 100 ACU
    (fee 1), received as 148 BCU: every invariant holds."""
    common = {"transfer_id": T1, "asset_id": A1, "destination_asset_id": B1, "exchange": _exchange(), "terminal": True}
    at_a = apb.Ledger(
        m_instance_id=A,
        currency_id="ACU",
        assets=[_asset(A1, "MIGRATED", migrated_to=B1), _asset(A2, "OWNED", owner=P1)],
        wallets=_wallets("ACU", {"treasury": -1000, P1: 900, "exchange-fees": 1, f"settlement:{B}": 99}),
        transfers=[
            apb.AssetTransferView(
                role="origin", state="COMPLETED", source_process_id=P1, peer_m_instance_id=B, **common
            )
        ],
    )
    at_b = apb.Ledger(
        m_instance_id=B,
        currency_id="BCU",
        assets=[_asset(B1, "OWNED", owner=Q1, source=A1)],
        wallets=_wallets("BCU", {"treasury": -1000, Q1: 1148, f"settlement:{A}": -148}),
        transfers=[
            apb.AssetTransferView(
                role="destination", state="COMMITTED", destination_process_id=Q1, peer_m_instance_id=A, **common
            )
        ],
    )
    return {A: at_a, B: at_b}


def _audit(count_a: int = 1, count_b: int = 1) -> dict[str, Counter[str]]:
    return {"gateway-a": Counter({T1: count_a}), "gateway-b": Counter({T1: count_b})}


def _check(ledgers: dict[str, apb.Ledger], audit: dict[str, Counter[str]] | None = None) -> Violations:
    return check_invariants(ledgers, audit=audit or _audit(), funded=FUNDED, registered=[A1, A2])


def _counts(found: Violations) -> dict[str, int]:
    return {name: len(keys) for name, keys in found.counters().items()}


class TestInvariantChecker:
    def test_consistent_ledgers_pass(self) -> None:
        """A committed transfer with payment, audited once by each gateway, violates nothing."""
        assert _counts(_check(_committed_pair())) == {"duplicated": 0, "lost": 0, "stuck": 0, "unbalanced": 0}

    def test_duplicated(self) -> None:
        """The origin still owns the Asset its destination owns too: duplicated."""
        ledgers = _committed_pair()
        ledgers[A].assets[0].CopyFrom(_asset(A1, "OWNED", owner=P1))
        assert _counts(_check(ledgers))["duplicated"] == 1

    def test_lost(self) -> None:
        """MIGRATED at the origin, nothing at the destination: lost."""
        ledgers = _committed_pair()
        del ledgers[B].assets[:]
        assert _counts(_check(ledgers))["lost"] == 1

    def test_minted_asset_vanished(self) -> None:
        """A minted Asset that no ledger holds any more: lost."""
        ledgers = _committed_pair()
        del ledgers[A].assets[1]
        assert _counts(_check(ledgers))["lost"] == 1

    def test_stuck_transfer(self) -> None:
        """A transfer not terminal is stuck (and its Asset is not also called lost)."""
        ledgers = _committed_pair()
        ledgers[A].transfers[0].terminal = False
        ledgers[A].transfers[0].state = "COMMITTED"
        del ledgers[B].assets[:]
        del ledgers[B].transfers[:]
        ledgers[B].wallets[1].balance.amount_minor = 1000
        ledgers[B].wallets[2].balance.amount_minor = 0
        assert _counts(_check(ledgers)) == {"duplicated": 0, "lost": 0, "stuck": 1, "unbalanced": 0}

    def test_stuck_lock(self) -> None:
        """An Asset LOCKED by a terminal transfer is stuck."""
        ledgers = _committed_pair()
        ledgers[A].assets[1].CopyFrom(_asset(A2, "LOCKED", owner=P1, locked_by=T1))
        assert _counts(_check(ledgers))["stuck"] == 1

    def test_unbalanced_sum(self) -> None:
        """Money appearing from nowhere: balances no longer sum to 0."""
        ledgers = _committed_pair()
        ledgers[B].wallets[1].balance.amount_minor += 5
        assert _counts(_check(ledgers))["unbalanced"] >= 1

    def test_unbalanced_refund_and_settlement(self) -> None:
        """A committed payment also refunded to the payer (the sum stays 0 since the settlement
        account paid it): the Wallet and the settlement account no longer reconcile."""
        ledgers = _committed_pair()
        ledgers[A].wallets[1].balance.amount_minor += 99
        ledgers[A].wallets[3].balance.amount_minor -= 99
        assert _counts(_check(ledgers))["unbalanced"] == 2

    def test_unbalanced_audit(self) -> None:
        """A commit audited twice at one gateway, or not at all at the other: unbalanced."""
        assert _counts(_check(_committed_pair(), _audit(count_b=2)))["unbalanced"] == 1
        assert _counts(_check(_committed_pair(), _audit(count_a=0)))["unbalanced"] == 1

    def test_aborted_transfer_audited_as_committed(self) -> None:
        """An aborted transfer (Asset back with its owner, payment refunded) passes, unless a
        gateway audited it as committed."""
        ledgers = _committed_pair()
        ledgers[A].assets[0].CopyFrom(_asset(A1, "OWNED", owner=P1))
        ledgers[A].transfers[0].state = "CANCELLED"
        del ledgers[A].wallets[:]
        ledgers[A].wallets.extend(_wallets("ACU", {"treasury": -1000, P1: 1000}))
        del ledgers[B].assets[:]
        del ledgers[B].wallets[:]
        ledgers[B].wallets.extend(_wallets("BCU", {"treasury": -1000, Q1: 1000}))
        ledgers[B].transfers[0].state = "ABORTED"
        clean = _counts(_check(ledgers, _audit(count_a=0, count_b=0)))
        assert clean == {"duplicated": 0, "lost": 0, "stuck": 0, "unbalanced": 0}
        assert _counts(_check(ledgers, _audit(count_a=0, count_b=1)))["unbalanced"] == 1


@needs_samples
def test_every_crash_point_keeps_one_owner() -> None:
    """18 rounds against real node processes, each crash point of mmmfed.crashpoints triggered at
    least once (the node SIGKILLed and restarted), the two ``wallet.pay`` points in Transact
    rounds: no Asset duplicated or lost, no payment made or recorded twice or not at all, nothing
    stuck, every account reconciled."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.chaos_transfer", "--rounds", "18", "--seed", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary = "rounds=18 duplicated=0 lost=0 stuck=0 unbalanced=0"
    assert run.stdout.strip().splitlines()[-2:] == [summary, f"RESULT {summary}"], run.stderr
    assert run.returncode == 0, run.stderr
    for point in ALL_POINTS:
        pattern = rf"crash={re.escape(point)}@(\S+) -> .* restarted .*\b\1\(-9\)"
        assert re.search(pattern, run.stderr), f"{point} was not triggered:\n{run.stderr}"
