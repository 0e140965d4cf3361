"""The run of bench/soak.py: set-up of the loopback federation (every node its own ``mmmfed
serve`` process, :class:`bench.chaos_cluster.Cluster`; negotiation both ways; Processes
registered and their Wallets funded; one Asset kept at a.example for the refused transfers), then
the mixed load of :mod:`bench.soak_ops` at a bounded rate for a bounded time, with each node's
RSS sampled after the warm-up, at regular points of the load (every 10% of its time, at least
every :data:`SAMPLE_EVERY_MAX_S` s, and at its half-way point) and at the end.

Rate: operation ``i`` starts at ``t0 + i / rate`` (its kind drawn by the weights of
``soak_ops.WEIGHTS`` from ``random.Random(seed)``, so a seed gives one sequence of kinds), unless
``max_in_flight`` operations are still running, in which case it waits for one to finish: a
federation slower than the requested rate shows as an achieved rate below it, not as a growing
backlog.

RSS: ``VmRSS`` of ``/proc/<pid>/status`` of each node's process, in bytes, and of its whole
session (the node and the workers it started, e.g. the bridge's validator): each node was
started in a session of its own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench.chaos_cluster import Cluster
from bench.soak_ops import ERROR, WEIGHTS, Peers, mint, run_one
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.loopback import A, B, samples_dir
from mmmfed.client import OperatorClient
from mmmfed.config import PeerAddress
from mmmfed.tls import secure_channel

PROCESSES_PER_INSTANCE = 4
FUND_MINOR = 10**12
WARMUP_SHARE = 0.1
WARMUP_MIN_S = 10.0
WARMUP_MAX_S = 180.0
"""The warm-up: 10% of the load time, at least 10 s and at most 3 minutes (never more than half
the load): see bench/soak.py's docstring for why 10 s was too short."""
SAMPLE_EVERY_MAX_S = 60.0
DRAIN_TIMEOUT_S = 90.0
ERRORS_KEPT = 20


def rss_bytes(pid: int) -> int:
    """VmRSS of process ``pid`` in bytes (0 if it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def session_rss_bytes(sid: int) -> int:
    """Sum of VmRSS of every process in session ``sid``, in bytes."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == sid:  # the fields after "(comm)": state ppid pgrp session ...
            total += rss_bytes(int(stat.parent.name))
    return total


@dataclass
class Tally:
    """Counts per kind and outcome, and the first errors' details."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, kind: str, outcome: str, detail: str) -> None:
        self.counts[kind, outcome] += 1
        if outcome != "ok":
            self.reasons[kind, detail] += 1
        if outcome == ERROR and len(self.errors) < ERRORS_KEPT:
            self.errors.append(f"{kind}: {detail}")

    def total(self, outcome: str | None = None) -> int:
        return sum(n for (_, o), n in self.counts.items() if outcome is None or o == outcome)


Sample = dict[str, tuple[int, int]]
"""Node -> (RSS of its process, RSS of its session), bytes."""


@dataclass
class Samples:
    """RSS in bytes per node: of its process and of its session, after warm-up, half-way through
    the load and at the end; ``points`` every sample taken, (seconds since the load began, sample)
    in time order (the warm-up's, the half-way one's and the end's among them)."""

    warm: Sample = field(default_factory=dict)
    half: Sample = field(default_factory=dict)
    end: Sample = field(default_factory=dict)
    warm_at_s: float = 0.0
    half_at_s: float = 0.0
    points: list[tuple[float, Sample]] = field(default_factory=list)


def warmup_s(duration_s: float) -> float:
    """Seconds of a load of ``duration_s`` seconds after which the warm-up's RSS is sampled:
    :data:`WARMUP_SHARE` of it within [:data:`WARMUP_MIN_S`, :data:`WARMUP_MAX_S`], and at
    most half of it."""
    return min(max(duration_s * WARMUP_SHARE, WARMUP_MIN_S), WARMUP_MAX_S, duration_s / 2)


def sample_times(duration_s: float, warmup_s: float) -> list[float]:
    """When to sample RSS during a load of ``duration_s`` seconds (seconds since it began, sorted,
    all < ``duration_s``): after the warm-up, every 10% of the load time (at most every
    :data:`SAMPLE_EVERY_MAX_S` s) and at the half-way point."""
    every = min(duration_s * 0.1, SAMPLE_EVERY_MAX_S)
    times = {round(warmup_s, 3), round(duration_s / 2, 3)}
    k = 1
    while k * every < duration_s - 1e-6:
        times.add(round(k * every, 3))
        k += 1
    return sorted(t for t in times if t < duration_s)


class Soak:
    """The cluster, the operations' peers and the totals of one run."""

    def __init__(self, cluster: Cluster, *, seed: int) -> None:
        self.cluster = cluster
        self.kinds = random.Random(seed)
        """Draws the kind of each operation: the same sequence of kinds for the same seed."""
        self.rng = random.Random(seed + 1)
        """Draws within operations (payer, payee, amounts), in whatever order they run."""
        self.clients: dict[str, OperatorClient] = {}
        self.tally = Tally()
        self.samples = Samples()
        self.peers: Peers | None = None
        self.load_s = 0.0
        self.drain_s = 0.0
        self._channels: list[grpc.aio.Channel] = []

    def sample(self) -> Sample:
        return {n: (rss_bytes(p.pid), session_rss_bytes(p.pid)) for n, p in sorted(self.cluster.procs.items())}

    async def _sample_at(self, times: list[float], *, t0: float, warmup_s: float, half_s: float) -> None:
        """Sample at each of ``times`` (seconds after ``t0``); the first at or after ``warmup_s``
        is the warm-up's, the first at or after ``half_s`` the half-way one. Runs until done or
        cancelled."""
        for at in times:
            await asyncio.sleep(max(0.0, at - (time.monotonic() - t0)))
            self._record(time.monotonic() - t0, warmup_s=warmup_s, half_s=half_s)

    def _record(self, now: float, *, warmup_s: float, half_s: float) -> Sample:
        taken = self.sample()
        self.samples.points.append((now, taken))
        if not self.samples.warm and now >= warmup_s:
            self.samples.warm, self.samples.warm_at_s = taken, now
        if not self.samples.half and now >= half_s:
            self.samples.half, self.samples.half_at_s = taken, now
        return taken

    async def setup(self) -> None:
        """Start every node, negotiate both ways, register and fund the Processes, mint the Asset
        the refused transfers aim at. Raises (RuntimeError, RemoteError, AioRpcError) on failure."""
        plan = self.cluster.plan
        plan.ports.release()  # before binding: serving sockets have no SO_REUSEPORT
        for node in self.cluster.configs:
            self.cluster.start(node)
        for node in self.cluster.configs:
            await self.cluster.wait_ready(node)
        for m_id, inst, gw in ((A, plan.instance_a, plan.gateway_a), (B, plan.instance_b, plan.gateway_b)):
            self.clients[m_id] = OperatorClient(
                plan.operators[m_id],
                instance=PeerAddress(tls_name=inst.tls_name, address=inst.listen),
                gateway=PeerAddress(tls_name=gw.tls_name, address=gw.listen),
            )
        # b -> a first: a gateway keeps one answer manifesto per peer, whichever side offered, so
        # the last negotiation's answer is the one a's avatar migrations to b are routed by.
        await self.clients[B].negotiate(A)
        await self.clients[A].negotiate(B)
        processes = {m: [f"mmm://{m}/processes/soak-{k}" for k in range(PROCESSES_PER_INSTANCE)] for m in (A, B)}
        for m_id, names in processes.items():
            for process in names:
                await self.clients[m_id].register_process(process)
                fund = apb.FundWalletRequest(holder_process_id=process, amount=FUND_MINOR)
                await self.clients[m_id].instance.FundWallet(fund)
        # PlatformGateway.Resolve is for gateway A's own M-Instance only: called as instance A.
        channel = secure_channel(
            plan.instance_a.tls, PeerAddress(tls_name=plan.gateway_a.tls_name, address=plan.gateway_a.listen)
        )
        self._channels.append(channel)
        vrm = samples_dir() / "vrm" / "VRM-Addon-for-Blender_tests"
        self.peers = Peers(
            clients=self.clients,
            resolve=gateway_pb2_grpc.PlatformGatewayStub(channel),
            processes=processes,
            currency={A: plan.instance_a.assets.currency_id, B: plan.instance_b.assets.currency_id},
            good_avatar=vrm / "pose_rotation_scale_shape_key_skinned.vrm",
            bad_avatar=vrm / "sphere.vrm",
            asset_data=(samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb").read_bytes(),
            rng=self.rng,
        )
        owner = processes[A][0]
        self.peers.held_asset = (await mint(self.peers, A, owner), owner)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        for channel in self._channels:
            await channel.close()

    async def _one(self, kind: str) -> None:
        assert self.peers is not None
        outcome, detail = await run_one(kind, self.peers)
        self.tally.add(kind, outcome, detail)

    async def load(self, *, minutes: float, rate: float, max_in_flight: int, kinds: list[str]) -> None:
        """The mixed load of ``kinds`` (names of ``soak_ops.WEIGHTS``, in their shares) for
        ``minutes`` at up to ``rate`` operations/s; RSS sampled after the warm-up (:func:`warmup_s`),
        at the points of :func:`sample_times` and once every operation has finished."""
        weights = [WEIGHTS[k][1] for k in kinds]
        duration = minutes * 60
        warmup = warmup_s(duration)
        running: set[asyncio.Task[None]] = set()
        t0 = time.monotonic()
        sampler = asyncio.create_task(
            self._sample_at(sample_times(duration, warmup), t0=t0, warmup_s=warmup, half_s=duration / 2)
        )
        started = 0
        while (now := time.monotonic() - t0) < duration:
            due = started / rate
            if due > now:
                await asyncio.sleep(min(due - now, duration - now))
                continue
            while len(running) >= max_in_flight:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(self._one(self.kinds.choices(kinds, weights)[0]))
            running.add(task)
            task.add_done_callback(running.discard)
            started += 1
        self.load_s = time.monotonic() - t0
        sampler.cancel()
        if running:
            _, late = await asyncio.wait(running, timeout=DRAIN_TIMEOUT_S)
            for task in late:
                task.cancel()
                self.tally.add("drain", ERROR, f"an operation still running {DRAIN_TIMEOUT_S:.0f} s after the load")
        self.drain_s = time.monotonic() - t0 - self.load_s
        self.samples.end = self._record(time.monotonic() - t0, warmup_s=warmup, half_s=duration / 2)
