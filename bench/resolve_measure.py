"""Measuring one path of bench/resolve.py: latency (p50, p99 in us) of sequential calls,
throughput (requests/s) with calls in flight, and, over the throughput phase, the CPU time per
request of named groups of processes (user + system, from /proc) and the growth per request of
counters read before and after (a gateway's Redis round trips, Redis's own command count).

A call that is not answered with an Ack raises RuntimeError; a gRPC failure propagates as
``grpc.aio.AioRpcError``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.testing import RedisServer

Call = Callable[[], Awaitable[papb.ProcessActionResponse]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far, in seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    p50_us: float
    p99_us: float
    per_s: float
    cpu_us: dict[str, float]
    counted: dict[str, float] = field(default_factory=dict)
    """Per call of the throughput phase, of each counter given to :func:`measure`."""


def check_ack(response: papb.ProcessActionResponse) -> None:
    """RuntimeError unless ``response`` carries an Ack PA Status."""
    if response.pa_status.WhichOneof("status") != "ack":
        raise RuntimeError(f"expected Ack, got {response.pa_status}")


def median_figures(rounds: list[Figures]) -> Figures:
    """Each figure's median over ``rounds`` of one path (the rounds of all paths interleave, so
    a slower spell of a shared machine weighs on every path alike)."""

    def med(values: list[float]) -> float:
        return statistics.median(values)

    return Figures(
        med([f.p50_us for f in rounds]),
        med([f.p99_us for f in rounds]),
        med([f.per_s for f in rounds]),
        {name: med([f.cpu_us[name] for f in rounds]) for name in rounds[0].cpu_us},
        {name: med([f.counted[name] for f in rounds]) for name in rounds[0].counted},
    )


async def measure(
    call: Call,
    *,
    calls: int,
    total: int,
    in_flight: int,
    pids: dict[str, list[int]],
    counters: dict[str, Callable[[], float]] | None = None,
) -> Figures:
    """Warm up, then ``calls`` sequential calls (latency), then ``total`` calls with ``in_flight``
    in flight (throughput, and CPU per call of each named group of processes ``pids``, summed,
    and the growth per call of each of ``counters``, read before and after)."""
    counters = counters or {}
    for _ in range(30):
        check_ack(await call())
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        check_ack(await call())
        latencies.append((time.perf_counter() - start) * 1e6)
    latencies.sort()
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            check_ack(await call())

    before = {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}
    counted_before = {name: read() for name, read in counters.items()}
    start = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        for _ in range(in_flight):
            tasks.create_task(worker())
    elapsed = time.perf_counter() - start
    cpu = {name: (sum(cpu_seconds(pid) for pid in group) - before[name]) / total * 1e6 for name, group in pids.items()}
    counted = {name: (read() - counted_before[name]) / total for name, read in counters.items()}
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    return Figures(p50, p99, total / elapsed, cpu, counted)


def store_round_trips(ports: list[int]) -> float:
    """``mmmfed_store_round_trips_total`` summed over the nodes serving /metrics on ``ports``."""
    total = 0.0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "mmmfed_store_round_trips":
                total += sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    return total


def redis_commands(server: RedisServer) -> float:
    """Redis's count of commands processed so far (INFO stats ``total_commands_processed``)."""
    import redis

    client = redis.Redis.from_url(server.url)
    try:
        return float(client.info("stats")["total_commands_processed"])
    finally:
        client.close()
