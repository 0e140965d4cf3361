"""A cross-instance Process Action round trip (MMM-TEC Resolution), beside the same call without
the gateways, through two nginx ``grpc_pass`` proxies, and through two bare Python proxies.

What is measured (issue 6, item 5): a Process of a.example asks b.example's Resolution Service to
Resolve an id, carrying one Item of a.example (a Message). Paths, every leg gRPC over mutual TLS
on loopback, every node its own process (``mmmfed serve``), the client this process:

* ``gateways``: client (with instance A's certificate, as instance A calls its gateway: Resolve
  is refused to anyone else, NOT_OWN_INSTANCE) -> gateway A (PlatformGateway.Resolve: agreement
  check, signs the Item) -> gateway B (Federation.ForwardProcessAction: origin, agreement, the
  Item's schema, Rules and eddsa-jcs-2022 proof verified) -> instance B (Instance.Act: decided
  and recorded durably).
* ``direct``: client -> instance B (Instance.Act), the same request from a User of b.example
  with the same Item, unsigned: the baseline the round trip is held to.
* ``nginx``: client -> nginx -> nginx -> instance B, ``grpc_pass`` over TLS with client
  certificates and upstream keepalive: two hops that only forward.
* ``python relays``: client -> relay -> relay -> instance B (bench/relay.py, grpc.aio, bytes in,
  bytes out): two bare Python pass-through hops.

Figures: p50 and p99 of sequential calls; requests/s with ``--in-flight`` calls in flight; and
the CPU time per request of each gateway, of instance B and of each bare relay (from /proc,
user + system) during each throughput phase: a relay hop's CPU is what gRPC alone costs a
Python hop, the floor under a gateway's. Every path is measured ``--rounds`` times (default 3),
the paths taking turns, and each figure is the median of its rounds: on a shared machine one
slow spell otherwise decides a ratio. Ratios are to the direct call measured in the same run.

Then the gateway path again with each gateway as R replicas on one Redis (``--replicas``, default
1, 2 and 3): R processes of gateway A and R of gateway B, every one with ``store.backend``
"redis" (AOF, appendfsync always: the settings ownership of record needs) and the instance's
keys; replica A_i forwards to B_i and the client spreads its calls over the A replicas. The
agreement is negotiated once, through A_1 and B_1, and the others read it from Redis. Redis
round trips per request are what each gateway counted (``mmmfed_store_round_trips_total`` on its
/metrics, summed over its replicas; a command or a pipeline is one); Redis commands per request
are Redis's own count (INFO stats), which includes the commands the audit script runs inside
Redis. Both over the throughput phase (at load, where a replica's audit appends are batched; a
call alone costs one round trip, two when the previous call went through another replica).
Targets (issue 6): CPU per verified request at a gateway <= 500 us with at most one Redis round
trip; the gateway path's throughput >= the Python relays'; its p50 <= 3.5 x the direct call's.

Last line: ``RESULT p50_vs_direct=R throughput_vs_direct=T ... gateway_cpu_vs_relay=C
throughput_vs_relays=U p50_vs_relays=P ...`` (:func:`bench.resolve_report.result_line`).

Every request is decided for real (and recorded in b.example's Activity Data with an fsync), so
each path carries the same instance cost. Exits non-zero if a call fails, 0 otherwise, whether or
not a target is met.

This module starts the nodes, drives the paths and reads the options; beside it,
bench/resolve_requests.py builds the requests, bench/resolve_proxies.py starts the nginx and
Python relay hops, bench/resolve_measure.py measures a path, bench/resolve_replicas.py runs the
replicated gateway path and bench/resolve_report.py prints the tables.

``--where`` measures the gateway path once more with py-spy sampling both gateways and prints
where each one's CPU per request goes, by component (:mod:`bench.where`).

Run (from the checkout):  .venv/bin/python bench/resolve.py [--calls 300] [--total 2000]
                                  [--in-flight 64] [--rounds 3] [--replicas 1,2,3] [--paths ...]
                                  [--where]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import grpc
from rich.console import Console

if not __package__:  # run as a script (python bench/resolve.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.resolve_measure import Call, Figures, check_ack, measure, median_figures
from bench.resolve_proxies import Proxies, start_proxies
from bench.resolve_replicas import ReplicaFigures, run_replicas
from bench.resolve_report import report, report_replicas, result_line
from bench.resolve_requests import LOCAL_USER, VISITOR, registration_request, resolve_request
from bench.where import report as report_where
from bench.where import sampling
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.cli.inprocess import peer
from mmmfed.cli.loopback import B, plan
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import OperatorClient
from mmmfed.tls import secure_channel

NODES = {"gateway A": "gateway-a", "gateway B": "gateway-b", "instance B": "instance-b"}
PATHS = ("direct", "gateways", "nginx", "python relays")


async def run(args: argparse.Namespace, workdir: Path, console: Console) -> int:
    p = plan(workdir)
    procs = NodeProcesses(workdir)
    proxies: Proxies | None = None
    try:
        procs.start_plan(p, workdir)
        await procs.wait_ready(p)
        proxies = start_proxies(workdir, p)
        op = p.operator_tls
        async with OperatorClient(op, instance=peer(p.instance_a), gateway=peer(p.gateway_a)) as at_a:
            await at_a.negotiate(B)
        op_b = p.operators[B]
        async with OperatorClient(op_b, instance=peer(p.instance_b), gateway=peer(p.gateway_b)) as at_b:
            check_ack(await at_b.instance.Act(ipb.ActRequest(request=registration_request())))
        channels = {
            "direct": secure_channel(op_b, peer(p.instance_b)),
            # PlatformGateway.Resolve is for gateway A's own M-Instance only (NOT_OWN_INSTANCE for
            # an operator): the client calls it as instance A does, with instance A's certificate.
            "gateways": secure_channel(p.instance_a.tls, peer(p.gateway_a)),
            "nginx": secure_channel(op, proxies.nginx_entry),
            "python relays": secure_channel(op, proxies.relay_entry),
        }
        counter = iter(range(10**9))
        resolve = gateway_pb2_grpc.PlatformGatewayStub(channels["gateways"]).Resolve
        act = {
            name: instance_pb2_grpc.InstanceStub(channels[name]).Act for name in ("direct", "nginx", "python relays")
        }

        def local(name: str) -> Call:
            return lambda: act[name](ipb.ActRequest(request=resolve_request(LOCAL_USER, next(counter))))

        paths: dict[str, Call] = {
            "direct": local("direct"),
            "gateways": lambda: resolve(resolve_request(VISITOR, next(counter))),
            "nginx": local("nginx"),
            "python relays": local("python relays"),
        }
        pids = {name: [procs.procs[node].pid] for name, node in NODES.items()}
        pids["relay hop 1"], pids["relay hop 2"] = [proxies.procs[3].pid], [proxies.procs[2].pid]
        rounds: dict[str, list[Figures]] = {name: [] for name in paths if name in args.paths}
        for i in range(args.rounds):
            for name in rounds:
                console.print(f"measuring {name} (round {i + 1} of {args.rounds}) ...")
                rounds[name].append(
                    await measure(paths[name], calls=args.calls, total=args.total, in_flight=args.in_flight, pids=pids)
                )
        figures = {name: median_figures(measured) for name, measured in rounds.items()}
        if args.where:  # once more, the gateways sampled: where their CPU per request goes
            console.print("measuring gateways again, sampled by py-spy (--where) ...")
            async with sampling({name: pids[name][0] for name in ("gateway A", "gateway B")}) as splits:
                sampled = await measure(
                    paths["gateways"], calls=1, total=args.total, in_flight=args.in_flight, pids=pids
                )
            report_where(splits, sampled.cpu_us, "request", console)
        for channel in channels.values():
            await channel.close()
    except (grpc.aio.AioRpcError, RuntimeError) as err:
        console.print(f"[bold red]bench failed:[/] {err}")
        for name, tail in procs.log_tails().items():
            console.print(f"--- {name}\n{tail}")
        return 1
    finally:
        if proxies is not None:
            proxies.stop()
        procs.stop()
    replicated: dict[int, ReplicaFigures] = {}
    for count in args.replicas:
        console.print(f"measuring gateways as {count} replica(s) each on Redis ...")
        try:
            replicated[count] = await run_replicas(args, workdir, count, console)
        except (grpc.aio.AioRpcError, RuntimeError) as err:
            console.print(f"[bold red]bench failed with {count} replicas:[/] {err}")
            return 1
    report(figures, args, console)
    report_replicas(replicated, figures, console)
    print(result_line(figures, replicated), flush=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="sequential calls per path (latency)")
    parser.add_argument("--total", type=int, default=2000, help="calls per path for throughput")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every path this many times, in turn, and report each figure's median",
    )
    parser.add_argument(
        "--replicas",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[1, 2, 3],
        help="replica counts per gateway on Redis, e.g. 1,2,3 ('' to skip)",
    )
    parser.add_argument(
        "--paths",
        type=lambda text: [x.strip() for x in text.split(",") if x.strip()],
        default=list(PATHS),
        help=f"paths to measure, of {', '.join(PATHS)} (the ratios need 'direct' and 'gateways')",
    )
    parser.add_argument(
        "--where",
        action="store_true",
        help="then measure the gateway path once more under py-spy and show where each gateway's CPU goes",
    )
    args = parser.parse_args()
    unknown = set(args.paths) - set(PATHS)
    if unknown or not {"direct", "gateways"} <= set(args.paths):
        parser.error(f"--paths: 'direct', 'gateways' and any of {', '.join(PATHS)} (not {', '.join(sorted(unknown))})")
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="mmmfed-bench-resolve-") as tmp:
        code = asyncio.run(run(args, Path(tmp), console))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
