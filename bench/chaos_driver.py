"""The scenario of bench/chaos_transfer.py: set-up (negotiation both ways, Processes registered,
Wallets funded, Assets minted), the crash schedule (the 15 points of :mod:`mmmfed.crashpoints` in
a shuffled cycle, then one round without a crash) and each round (a transfer with one crash point
armed, driven until both sides hold it terminal, or for a ``wallet.pay`` point a Transact,
:mod:`bench.chaos_payments`; dead nodes restarted, then the invariants checked).

Every random choice comes from one ``random.Random(seed)``. A round whose RPC keeps failing (or a
node that will not restart) raises RuntimeError or ``grpc.aio.AioRpcError``: a harness failure,
not a violation.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import grpc

from bench.chaos_cluster import Cluster
from bench.chaos_invariants import asset_ids, check_invariants
from bench.chaos_payments import payment_round
from gateway.assets import ASSET_COMMITTED
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.audit import SqliteAuditLog
from mmmfed.cli.loopback import A, B, samples_dir
from mmmfed.client import OperatorClient
from mmmfed.config import PeerAddress
from mmmfed.crashpoints import DESTINATION_POINTS, GATEWAY_POINTS, ORIGIN_POINTS, WALLET_POINTS
from mmmfed.items import FORMAT_GLB

ALL_POINTS = (*ORIGIN_POINTS, *DESTINATION_POINTS, *GATEWAY_POINTS, *WALLET_POINTS)
INSTANCE_NODE = {A: "instance-a", B: "instance-b"}
GATEWAY_NODE = {A: "gateway-a", B: "gateway-b"}
PROCESSES_PER_INSTANCE = 3
FUND_MINOR = 10**9
RPC_TIMEOUT_S = 5.0
SHORT_TIMEOUT_SHARE = 0.3
SHORT_TIMEOUT_MS = (150, 1500)


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
        self.paid: Counter[str] = Counter()
        """Net minor units each Process received by Transact (payment rounds)."""
        plan = cluster.plan
        self.currency = {A: plan.instance_a.assets.currency_id, B: plan.instance_b.assets.currency_id}
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
                await self.clients[m_id].register_process(process)  # a Process that may Transact
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
        asset_id, _ = asset_ids(view)
        self.registered.add(asset_id)
        return asset_id

    async def _pick_asset(self, m_id: str) -> tuple[str, str]:
        owned = [v for v in self.ledgers[m_id].assets if v.state == "OWNED"]
        if len(owned) < 2:
            owner = self.rng.choice(self.processes[m_id])
            return await self._mint(m_id, owner), owner
        view = self.rng.choice(owned)
        return asset_ids(view)[0], view.owner_process_id

    async def restart_dead(self) -> list[str]:
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
            restarted += await self.restart_dead()
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
        """One transfer with ``point`` armed (a payment round for a ``wallet.pay`` point,
        :mod:`bench.chaos_payments`); returns the round's line and whether the point was reached
        (True without a point)."""
        if point in WALLET_POINTS:
            return await payment_round(self, index, point, self.rng.choice((A, B)))
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
        notes += await self.check_round(restarted)
        self.totals.rounds += 1
        crash = f"{point}@{node}" if point else "none"
        pay = f" pay={payment}" if payment else ""
        pay += f" timeout={timeout_ms}ms" if timeout_ms != self.timeout_ms else ""
        extra = (" restarted " + ",".join(restarted) if restarted else "") + "".join(f"\n    {n}" for n in notes)
        line = f"round {index}: {origin}->{dest}{pay} crash={crash} -> {outcome} ({time.monotonic() - t0:.2f} s){extra}"
        return line, reached

    async def check_round(self, restarted: list[str]) -> list[str]:
        """Read both ledgers and audit logs, check the invariants; a note per new violation."""
        self.ledgers = await self._snapshot(restarted)
        self._read_audit()
        found = check_invariants(
            self.ledgers, audit=self.audit_counts, funded=self.funded, paid=self.paid, registered=self.registered
        )
        notes = []
        for name, keys in found.counters().items():
            for key in sorted(keys):
                if (name, key) not in self.reported:
                    self.reported.add((name, key))
                    self.totals.counts[name] += 1
                    notes.append(f"{name.upper()}: {key}")
        return notes

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
            restarted += await self.restart_dead()
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
