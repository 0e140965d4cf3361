"""The tables bench/resolve.py prints (rich): each path's p50, p99 and requests/s with ratios to
the direct call, CPU us per request of every process on every path, the targets of issue 6 with
their verdicts, and the gateway path with R replicas per gateway on Redis beside the single-node
SQLite run. Printing only: a target not met is shown, never raised.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from bench.resolve_measure import Figures
from bench.resolve_replicas import ReplicaFigures

CPU_TARGET_US = 500.0
P50_TARGET_RATIO = 3.5


def report(figures: dict[str, Figures], args: argparse.Namespace, console: Console) -> None:
    """The table of figures with ratios to the direct call, and the targets' verdicts."""
    direct = figures["direct"]
    table = Table(
        "path", "p50 us", "p99 us", "req/s", "p50 / direct", "req/s / direct", title="Process Action round trip"
    )
    for name, f in figures.items():
        table.add_row(
            name,
            f"{f.p50_us:,.0f}",
            f"{f.p99_us:,.0f}",
            f"{f.per_s:,.0f}",
            f"{f.p50_us / direct.p50_us:.2f}x",
            f"{f.per_s / direct.per_s:.2f}x",
        )
    console.print(table)
    g = figures["gateways"]
    cpu = Table("process", *(f"{path} path" for path in figures), title="CPU us per request (user + system)")
    for name in g.cpu_us:
        cpu.add_row(name, *(f"{f.cpu_us[name]:,.0f}" for f in figures.values()))
    console.print(cpu)
    verdicts = [
        (
            "gateway B CPU per verified request",
            f"{g.cpu_us['gateway B']:,.0f} us",
            g.cpu_us["gateway B"] <= CPU_TARGET_US,
            f"<= {CPU_TARGET_US:.0f} us",
        ),
        (
            "gateway A CPU per signed request",
            f"{g.cpu_us['gateway A']:,.0f} us",
            g.cpu_us["gateway A"] <= CPU_TARGET_US,
            f"<= {CPU_TARGET_US:.0f} us",
        ),
    ]
    if "python relays" in figures:
        verdicts.append(
            (
                "throughput vs python relays",
                f"{g.per_s / figures['python relays'].per_s:.2f}x",
                g.per_s >= figures["python relays"].per_s,
                ">= 1.00x",
            )
        )
    verdicts.append(
        (
            "p50 vs direct",
            f"{g.p50_us / direct.p50_us:.2f}x",
            g.p50_us <= P50_TARGET_RATIO * direct.p50_us,
            f"<= {P50_TARGET_RATIO}x",
        )
    )
    targets = Table("target", "measured", "bar", "met", title="Targets (issue 6)")
    for what, measured, met, bar in verdicts:
        targets.add_row(what, measured, bar, "[green]yes[/]" if met else "[red]no[/]")
    console.print(targets)
    console.print(
        f"{args.calls} sequential calls, then {args.total} with {args.in_flight} in flight, per path and round; "
        f"medians of {args.rounds} rounds taken in turn; "
        f"2 cores shared by client, nodes and proxies."
    )


def report_replicas(replicated: dict[int, ReplicaFigures], figures: dict[str, Figures], console: Console) -> None:
    """The gateway path with R replicas per gateway on Redis, beside the single-node SQLite run."""
    if not replicated:
        return
    one = figures["gateways"]
    table = Table(
        "replicas per gateway",
        "p50 us",
        "p99 us",
        "req/s",
        "req/s / 1 node (sqlite)",
        "gateway B CPU us/request",
        "Redis round trips / request (A, B)",
        "Redis commands / request",
        title="Gateway path, replicas on one Redis (appendfsync always)",
    )
    table.add_row(
        "1 (sqlite, above)",
        f"{one.p50_us:,.0f}",
        f"{one.p99_us:,.0f}",
        f"{one.per_s:,.0f}",
        "1.00x",
        f"{one.cpu_us['gateway B']:,.0f}",
        "0, 0",
        "0",
    )
    for count, r in sorted(replicated.items()):
        f, trips = r.figures, r.round_trips_per_request
        table.add_row(
            f"{count} (redis)",
            f"{f.p50_us:,.0f}",
            f"{f.p99_us:,.0f}",
            f"{f.per_s:,.0f}",
            f"{f.per_s / one.per_s:.2f}x",
            f"{f.cpu_us['gateway B']:,.0f}",
            f"{trips['gateway A']:.2f}, {trips['gateway B']:.2f}",
            f"{r.commands_per_request:.1f}",
        )
    console.print(table)


def result_line(figures: dict[str, Figures], replicated: dict[int, ReplicaFigures]) -> str:
    """The machine-readable last line: ``RESULT name=value ...``, ratios to the baselines of the
    same run. ``p50_vs_direct`` and ``throughput_vs_direct`` (gateway path / direct call);
    ``gateway_cpu_vs_relay`` (the busier gateway's CPU per request / a bare relay hop's, the
    mean of the two hops on the python relays path) with ``throughput_vs_relays`` and
    ``p50_vs_relays`` when that path ran; ``p50_vs_nginx`` when nginx ran; each gateway's CPU
    in us per request; for R replicas on Redis, ``replicas<R>_throughput_vs_1node`` (/ the
    single-node SQLite gateway path) and ``replicas<R>_round_trips_a`` / ``_b`` per request."""
    g, direct = figures["gateways"], figures["direct"]
    fields = {
        "p50_vs_direct": g.p50_us / direct.p50_us,
        "throughput_vs_direct": g.per_s / direct.per_s,
        "gateway_a_cpu_us": g.cpu_us["gateway A"],
        "gateway_b_cpu_us": g.cpu_us["gateway B"],
    }
    relays = figures.get("python relays")
    if relays is not None:
        hop_us = (relays.cpu_us["relay hop 1"] + relays.cpu_us["relay hop 2"]) / 2
        fields["gateway_cpu_vs_relay"] = max(fields["gateway_a_cpu_us"], fields["gateway_b_cpu_us"]) / hop_us
        fields["throughput_vs_relays"] = g.per_s / relays.per_s
        fields["p50_vs_relays"] = g.p50_us / relays.p50_us
    if "nginx" in figures:
        fields["p50_vs_nginx"] = g.p50_us / figures["nginx"].p50_us
    for count, r in sorted(replicated.items()):
        fields[f"replicas{count}_throughput_vs_1node"] = r.figures.per_s / g.per_s
        fields[f"replicas{count}_round_trips_a"] = r.round_trips_per_request["gateway A"]
        fields[f"replicas{count}_round_trips_b"] = r.round_trips_per_request["gateway B"]
    return "RESULT " + " ".join(
        f"{name}={value:.0f}" if name.endswith("_us") else f"{name}={value:.2f}" for name, value in fields.items()
    )
