"""Crash testing of asset migration (issue 5, item 6): kill nodes mid-transfer, restart them, and
check that every Asset still has exactly one owner of record and that the money adds up.

Set-up, once per run: a loopback federation (``mmmfed.cli.loopback.plan``) with every node its
own ``mmmfed serve`` process, as ``mmmfed demo`` starts them, each with
``MMMFED_CRASHPOINT_FILE=<workdir>/crash-<node>`` (:mod:`mmmfed.crashpoints`). The gateways
negotiate both ways; Assets (small glTF samples) are minted and payer Wallets funded up front.

Each round (``random.Random(seed)``): pick a direction (mostly a -> b), an OWNED Asset at the
origin, maybe a payment, and a transfer timeout (mostly ``--timeout-ms``; some short enough to
expire while a node restarts, so aborts run under crashes too); arm one crash point (the 13 of
:mod:`mmmfed.crashpoints` come up in a shuffled cycle followed by one round without a crash, so 13
rounds cover every point); call TransferAsset at the origin (again, with the same transfer id,
while it fails UNAVAILABLE); restart every node that died; wait until both sides record the
transfer terminal (``--round-timeout-s``); then check the invariants over both ledgers and both
gateways' audit logs (:func:`check_invariants`). A violation is counted once, in the first round
that shows it. A harness failure (e.g. a node that does not restart) exits 2.

Prints one line per round to stderr and, last on stdout, the summary
``rounds=N duplicated=D lost=L stuck=S unbalanced=U``; exit code 0 iff all four are 0. Node logs
are in ``<workdir>/logs``; the workdir is kept (and printed) when a counter is not 0.

Run (from the checkout):  .venv/bin/python -m bench.chaos_transfer --rounds 100 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

if not __package__:  # run as a script (python bench/chaos_transfer.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway.assets import ASSET_COMMITTED
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.audit import SqliteAuditLog
from mmmfed.cli.loopback import A, B, LoopbackPlan, plan, samples_dir
from mmmfed.cli.processes import stop_processes
from mmmfed.client import OperatorClient, wait_serving
from mmmfed.config import InstanceConfig, PeerAddress
from mmmfed.crashpoints import DESTINATION_POINTS, ENV, GATEWAY_POINTS, ORIGIN_POINTS
from mmmfed.items import FORMAT_GLB

ALL_POINTS = (*ORIGIN_POINTS, *DESTINATION_POINTS, *GATEWAY_POINTS)
INSTANCE_NODE = {A: "instance-a", B: "instance-b"}
GATEWAY_NODE = {A: "gateway-a", B: "gateway-b"}
OWNERS_OF_RECORD = ("OWNED", "LOCKED")
ORIGIN_COMMITTED = ("COMMITTED", "COMPLETED")
PROCESSES_PER_INSTANCE = 3
FUND_MINOR = 10**9
RPC_TIMEOUT_S = 5.0
SHORT_TIMEOUT_SHARE = 0.3
SHORT_TIMEOUT_MS = (150, 1500)
RETRY_MAX_MS = 300  # the nodes' transfer retry backoff cap (default 2 s would make rounds slow)


# -- invariants ------------------------------------------------------------------------------
@dataclass
class Violations:
    """Keys of violating Assets (lineage root id), transfers or accounts, by counter."""

    duplicated: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    stuck: set[str] = field(default_factory=set)
    unbalanced: set[str] = field(default_factory=set)

    def counters(self) -> dict[str, set[str]]:
        return {"duplicated": self.duplicated, "lost": self.lost, "stuck": self.stuck, "unbalanced": self.unbalanced}


def _ids(view: apb.AssetView) -> tuple[str, str]:
    """(ItemID, SourceItemID or "") of an Asset's Item."""
    doc = json.loads(view.asset.item_json)
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
    registered: Iterable[str] = (),
) -> Violations:
    """The invariants of asset migration over the ledgers of every M-Instance (by id), the
    ``ASSET_COMMITTED`` entries of every gateway's audit log (subject -> count, by gateway) and
    what was issued to each Process (``funded``). ``registered``: AssetIDs minted (none may vanish).

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
            item_id, source = _ids(view)
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
    _check_money(out, ledgers, origin_rows, funded)
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
) -> None:
    """Every account of every ledger against the funding and the transfers (each write moves the
    journal and the Wallets together, so this holds at every instant, in flight or not)."""
    for m_id, ledger in ledgers.items():
        balances = {w.holder: w.balance.amount_minor for w in ledger.wallets}
        total = sum(balances.values())
        if total:
            out.unbalanced.add(f"{m_id}: balances sum to {total}, not 0")
        expected: Counter[str] = Counter()
        issued = sum(v for k, v in funded.items() if k.startswith(f"mmm://{m_id}/"))
        expected["treasury"] = -issued
        for holder, amount in funded.items():
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


# -- the federation's processes ------------------------------------------------------------
class Cluster:
    """Every node of ``plan`` as a ``python -m mmmfed serve`` process that can be restarted alone
    (same argv, same environment), its log appended to ``<workdir>/logs/<node>.log``."""

    def __init__(self, p: LoopbackPlan, workdir: Path) -> None:
        self.plan = p
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.configs = dict(p.nodes())
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter[str] = Counter()

    def crash_file(self, node: str) -> Path:
        return self.workdir / f"crash-{node}"

    def start(self, node: str) -> None:
        cfg = self.configs[node]
        path = self.workdir / f"{node}.json"
        if not path.exists():
            if isinstance(cfg, InstanceConfig):  # short retry backoff, so recovery is quick
                cfg = cfg.model_copy(update={"assets": cfg.assets.model_copy(update={"retry_max_ms": RETRY_MAX_MS})})
            path.write_text(cfg.model_dump_json(indent=2))
        env = {**os.environ, ENV: str(self.crash_file(node))}
        self.starts[node] += 1
        with open(self.logs / f"{node}.log", "ab") as log:
            log.write(f"\n=== chaos_transfer: start #{self.starts[node]} of {node}\n".encode())
            log.flush()
            self.procs[node] = subprocess.Popen(
                [sys.executable, "-m", "mmmfed", "serve", cfg.kind, "--config", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    async def wait_ready(self, node: str, *, timeout_s: float = 30.0) -> None:
        """Wait until ``node`` serves; RuntimeError (naming its log) if it exits first."""
        cfg = self.configs[node]
        peer = PeerAddress(tls_name=cfg.tls_name, address=cfg.listen)
        ready = asyncio.create_task(wait_serving(self.plan.operator_for(cfg), peer, timeout_s=timeout_s))
        try:
            while not ready.done():
                if self.procs[node].poll() is not None:
                    log = self.logs / f"{node}.log"
                    raise RuntimeError(f"{node} exited with {self.procs[node].returncode} while starting; see {log}")
                await asyncio.wait({ready}, timeout=0.05)
            ready.result()
        finally:
            ready.cancel()

    def dead(self) -> dict[str, int]:
        """Nodes that exited, with their return code (-9: killed by a crash point)."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every node, SIGKILL its process group after ``timeout_s`` (idempotent)."""
        stop_processes(self.procs.values(), timeout_s=timeout_s)


# -- the rounds ------------------------------------------------------------------------------
@dataclass
class Totals:
    rounds: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        counts = " ".join(f"{name}={self.counts[name]}" for name in ("duplicated", "lost", "stuck", "unbalanced"))
        return f"rounds={self.rounds} {counts}"

    @property
    def failed(self) -> bool:
        return any(self.counts.values())


class CrashSchedule:
    """Every crash point once per cycle, in a shuffled order, then one round without a crash. A
    point a round did not reach (e.g. its transfer expired before the offer was staged) comes up
    again in the next round, with the long timeout."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._queue: list[str | None] = []
        self.retry: str | None = None

    def next(self) -> tuple[str | None, bool]:
        """The next point (None: no crash) and whether it is a retry."""
        if self.retry is not None:
            point, self.retry = self.retry, None
            return point, True
        if not self._queue:
            self._queue = [*self._rng.sample(ALL_POINTS, len(ALL_POINTS)), None]
        return self._queue.pop(0), False


class Chaos:
    """The run: the cluster, operator clients, what was minted and funded, and the totals."""

    def __init__(self, cluster: Cluster, *, seed: int, timeout_ms: int, round_timeout_s: float) -> None:
        self.cluster = cluster
        self.rng = random.Random(seed)
        self.timeout_ms = timeout_ms
        self.round_timeout_s = round_timeout_s
        self.clients: dict[str, OperatorClient] = {}
        self.processes = {m: [f"mmm://{m}/processes/chaos-{k}" for k in range(PROCESSES_PER_INSTANCE)] for m in (A, B)}
        self.funded: Counter[str] = Counter()
        self.registered: set[str] = set()
        self.ledgers: dict[str, apb.Ledger] = {}
        self.audit_logs: dict[str, SqliteAuditLog] = {}
        self.audit_seq: Counter[str] = Counter()
        self.audit_counts: dict[str, Counter[str]] = {}
        self.reported: set[tuple[str, str]] = set()
        self.totals = Totals()
        gltf = samples_dir() / "gltf"
        self.samples = [
            (gltf / "BoxTextured" / "BoxTextured.glb").read_bytes(),
            (gltf / "Fox" / "Fox.glb").read_bytes(),
        ]

    def _connect(self, m_id: str) -> None:
        p = self.cluster.plan
        inst, gw = (p.instance_a, p.gateway_a) if m_id == A else (p.instance_b, p.gateway_b)
        self.clients[m_id] = OperatorClient(
            p.operators[m_id],
            instance=PeerAddress(tls_name=inst.tls_name, address=inst.listen),
            gateway=PeerAddress(tls_name=gw.tls_name, address=gw.listen),
        )

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        for log in self.audit_logs.values():
            log.close()

    async def setup(self) -> None:
        """Start every node, negotiate both ways, fund the Processes, mint Assets on both sides."""
        self.cluster.plan.ports.release()  # before binding: serving sockets have no SO_REUSEPORT
        for node in self.cluster.configs:
            self.cluster.start(node)
        for node in self.cluster.configs:
            await self.cluster.wait_ready(node)
        for m_id in (A, B):
            self._connect(m_id)
        await self.clients[A].negotiate(B)
        await self.clients[B].negotiate(A)
        for m_id in (A, B):
            stub = self.clients[m_id].instance
            for process in self.processes[m_id]:
                await stub.FundWallet(apb.FundWalletRequest(holder_process_id=process, amount=FUND_MINOR))
                self.funded[process] += FUND_MINOR
                await self._mint(m_id, process)
        for m_id, cfg in ((A, self.cluster.plan.gateway_a), (B, self.cluster.plan.gateway_b)):
            self.audit_logs[GATEWAY_NODE[m_id]] = SqliteAuditLog(cfg.data_dir / "audit.sqlite3")
            self.audit_counts[GATEWAY_NODE[m_id]] = Counter()
        self.ledgers = await self._snapshot()

    async def _mint(self, m_id: str, owner: str) -> str:
        data = self.samples[0] if self.rng.random() < 0.8 else self.samples[1]
        request = apb.RegisterAssetRequest(
            owner_process_id=owner, sub_type="Model", format=FORMAT_GLB, media_type="model/gltf-binary", data=data
        )
        view = await self.clients[m_id].instance.RegisterAsset(request, timeout=RPC_TIMEOUT_S)
        asset_id, _ = _ids(view)
        self.registered.add(asset_id)
        return asset_id

    async def _pick_asset(self, m_id: str) -> tuple[str, str]:
        owned = [v for v in self.ledgers[m_id].assets if v.state == "OWNED"]
        if len(owned) < 2:
            owner = self.rng.choice(self.processes[m_id])
            return await self._mint(m_id, owner), owner
        view = self.rng.choice(owned)
        return _ids(view)[0], view.owner_process_id

    async def _restart_dead(self) -> list[str]:
        """Restart every node that exited; returns "node(rc)" for each."""
        done = []
        for node, rc in self.cluster.dead().items():
            self.cluster.start(node)
            await self.cluster.wait_ready(node)
            m_id = A if node.endswith("-a") else B if node.endswith("-b") else ""
            if m_id:
                await self.clients[m_id].close()
                self._connect(m_id)
            done.append(f"{node}({rc})" if rc == -signal.SIGKILL else f"{node}(UNEXPECTED exit {rc})")
        return done

    async def _rpc_until_up(self, m_id: str, what: str, restarted: list[str]) -> apb.Ledger:
        for _ in range(100):
            restarted += await self._restart_dead()
            try:
                ledger: apb.Ledger = await self.clients[m_id].instance.GetLedger(
                    apb.GetLedgerRequest(), timeout=RPC_TIMEOUT_S
                )
                return ledger
            except grpc.aio.AioRpcError as err:
                if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{what} of {m_id} kept failing")

    async def _snapshot(self, restarted: list[str] | None = None) -> dict[str, apb.Ledger]:
        return {m: await self._rpc_until_up(m, "GetLedger", restarted if restarted is not None else []) for m in (A, B)}

    async def _transfer(self, m_id: str, transfer_id: str) -> apb.AssetTransferView | None:
        try:
            view: apb.AssetTransferView = await self.clients[m_id].instance.GetAssetTransfer(
                apb.GetAssetTransferRequest(transfer_id=transfer_id), timeout=RPC_TIMEOUT_S
            )
            return view
        except grpc.aio.AioRpcError:
            return None  # not known there yet, or the node is down

    def _read_audit(self) -> None:
        for node, log in self.audit_logs.items():
            while True:
                entries = log.entries(since_seq=self.audit_seq[node], limit=1000)
                for entry in entries:
                    if entry.event == ASSET_COMMITTED:
                        self.audit_counts[node][entry.subject] += 1
                if entries:
                    self.audit_seq[node] = entries[-1].seq
                if len(entries) < 1000:
                    break

    async def round(self, index: int, point: str | None, *, long_timeout: bool = False) -> tuple[str, bool]:
        """One transfer with ``point`` armed; returns the round's line and whether the point was
        reached (True without a point)."""
        rng, t0 = self.rng, time.monotonic()
        origin, dest = (A, B) if rng.random() < 0.75 else (B, A)
        asset_id, owner = await self._pick_asset(origin)
        payment = rng.randint(1, 5000) if rng.random() < 0.5 else 0
        # some transfers expire while a node restarts: the abort path runs under crashes too
        short = rng.random() < SHORT_TIMEOUT_SHARE and not long_timeout
        timeout_ms = rng.randint(*SHORT_TIMEOUT_MS) if short else self.timeout_ms
        node = None
        if point in ORIGIN_POINTS:
            node = INSTANCE_NODE[origin]
        elif point in DESTINATION_POINTS:
            node = INSTANCE_NODE[dest]
        elif point is not None:
            node = GATEWAY_NODE[rng.choice((origin, dest))]
        if node is not None and point is not None:
            self.cluster.crash_file(node).write_text(point)
        request = apb.TransferAssetRequest(
            transfer_id=f"urn:uuid:{uuid.uuid4()}",
            asset_id=asset_id,
            source_process_id=owner,
            destination_process_id=rng.choice(self.processes[dest]),
            payment_amount=payment,
            timeout_ms=timeout_ms,
        )
        outcome, notes, restarted = await self._drive(request, origin, dest)
        reached = node is None or not self.cluster.crash_file(node).exists()
        if node is not None and not reached:
            self.cluster.crash_file(node).unlink(missing_ok=True)
            notes.append("crash point not reached: it comes up again next round")
        self.ledgers = await self._snapshot(restarted)
        self._read_audit()
        found = check_invariants(self.ledgers, audit=self.audit_counts, funded=self.funded, registered=self.registered)
        for name, keys in found.counters().items():
            for key in sorted(keys):
                if (name, key) not in self.reported:
                    self.reported.add((name, key))
                    self.totals.counts[name] += 1
                    notes.append(f"{name.upper()}: {key}")
        self.totals.rounds += 1
        crash = f"{point}@{node}" if point else "none"
        pay = f" pay={payment}" if payment else ""
        pay += f" timeout={timeout_ms}ms" if timeout_ms != self.timeout_ms else ""
        extra = (" restarted " + ",".join(restarted) if restarted else "") + "".join(f"\n    {n}" for n in notes)
        line = f"round {index}: {origin}->{dest}{pay} crash={crash} -> {outcome} ({time.monotonic() - t0:.2f} s){extra}"
        return line, reached

    async def _drive(
        self, request: apb.TransferAssetRequest, origin: str, dest: str
    ) -> tuple[str, list[str], list[str]]:
        """TransferAsset (again, same id, while it fails UNAVAILABLE), restarting dead nodes,
        until both sides hold the transfer terminal or the round's deadline passes."""
        deadline = time.monotonic() + self.round_timeout_s
        submitted = False
        notes: list[str] = []
        restarted: list[str] = []
        while time.monotonic() < deadline:
            restarted += await self._restart_dead()
            if not submitted:
                try:
                    await self.clients[origin].instance.TransferAsset(request, timeout=RPC_TIMEOUT_S)
                    submitted = True
                except grpc.aio.AioRpcError as err:
                    if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        return f"refused {err.code().name}: {err.details()}", notes, restarted
                    notes.append(f"TransferAsset {err.code().name}; retried with the same id")
                    await asyncio.sleep(0.05)
                    continue
            at_origin = await self._transfer(origin, request.transfer_id)
            at_dest = await self._transfer(dest, request.transfer_id)
            if at_origin is not None and at_origin.terminal and at_dest is not None and at_dest.terminal:
                why = f" {at_origin.reason}" if at_origin.reason else ""
                return f"{at_origin.state}/{at_dest.state}{why}", notes, restarted
            await asyncio.sleep(0.02)
        return "NOT TERMINAL at the deadline", notes, restarted


async def run(chaos: Chaos, rounds: int) -> None:
    try:
        await chaos.setup()
        schedule = CrashSchedule(chaos.rng)
        for index in range(1, rounds + 1):
            point, again = schedule.next()
            line, reached = await chaos.round(index, point, long_timeout=again)
            print(line, file=sys.stderr, flush=True)
            if not reached and not again:
                schedule.retry = point
    finally:
        await chaos.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary directory (kept on failure)")
    parser.add_argument("--timeout-ms", type=int, default=4000, help="TransferAssetRequest.timeout_ms")
    parser.add_argument("--round-timeout-s", type=float, default=30.0, help="a transfer not terminal by then is stuck")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mmmfed-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `timeout` unwinds like Ctrl-C
    cluster = Cluster(plan(workdir), workdir)
    chaos = Chaos(cluster, seed=args.seed, timeout_ms=args.timeout_ms, round_timeout_s=args.round_timeout_s)
    t0, code = time.monotonic(), 0
    try:
        asyncio.run(run(chaos, args.rounds))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as err:  # the harness could not go on (e.g. a node would not restart): exit 2
        print(f"chaos_transfer stopped after {chaos.totals.rounds} rounds: {err!r}", file=sys.stderr)
        code = 2
    finally:
        cluster.stop()
    print(f"{chaos.totals.rounds} rounds in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    if chaos.totals.failed or code:
        print(f"workdir kept: {workdir} (node logs in {cluster.logs})", file=sys.stderr)
    elif args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    print(chaos.totals.line(), flush=True)
    return code or (1 if chaos.totals.failed else 0)


if __name__ == "__main__":
    sys.exit(main())
