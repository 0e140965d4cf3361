"""The gateway path of bench/resolve.py with each gateway as R replicas on one Redis: R processes
of gateway A and R of gateway B, every one with ``store.backend`` "redis" and the instance's keys,
replica A_i forwarding to B_i, the client spreading its calls over the A replicas.

Figures: those of :func:`bench.resolve_measure.measure` (CPU summed over each gateway's
replicas), Redis's own count of commands per request (INFO stats) and each gateway's Redis round
trips per request (``mmmfed_store_round_trips_total`` on its /metrics, summed over its replicas).
A failed call raises RuntimeError or ``grpc.aio.AioRpcError``; every process and Redis are
stopped either way.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.console import Console

from bench.resolve_measure import Figures, measure, redis_commands, store_round_trips
from bench.resolve_requests import VISITOR, resolve_request
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.inprocess import peer
from mmmfed.cli.loopback import B, PortReservation, plan
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import OperatorClient
from mmmfed.config import ObservabilityConfig, PeerAddress, StoreConfig
from mmmfed.testing import RedisServer
from mmmfed.tls import secure_channel


@dataclass
class ReplicaFigures:
    """The gateway path with R replicas: its figures, Redis's own count of commands run per
    request (commands inside the audit script included), and the round trips each gateway made
    to Redis per request (its ``mmmfed_store_round_trips_total``, summed over its replicas)."""

    figures: Figures
    commands_per_request: float
    round_trips_per_request: dict[str, float]


def _metrics_at(port: int) -> ObservabilityConfig:
    return ObservabilityConfig(metrics_listen=f"127.0.0.1:{port}")


async def run_replicas(args: argparse.Namespace, workdir: Path, replicas: int, console: Console) -> ReplicaFigures:
    """The gateway path with ``replicas`` replicas of each gateway on one Redis (module docstring).
    Returns the figures (CPU summed over each gateway's replicas) and Redis commands per request."""
    root = workdir / f"replicas-{replicas}"
    root.mkdir()
    p = plan(root)
    redis_server = RedisServer(root / "redis").start()
    procs = NodeProcesses(root)
    try:
        store = StoreConfig(backend="redis", redis_url=redis_server.url)
        # Replica 0 listens where the instances expect their gateways (they register their
        # manifestos there, and every replica reads them from Redis); the others on new ports.
        ports = PortReservation(2 * (replicas - 1) + 2 * replicas)
        a_ports = [int(p.gateway_a.listen.rsplit(":", 1)[1]), *ports.ports[: replicas - 1]]
        b_ports = [int(p.gateway_b.listen.rsplit(":", 1)[1]), *ports.ports[replicas - 1 : 2 * (replicas - 1)]]
        metrics_ports = {"gateway A": ports.ports[-2 * replicas : -replicas], "gateway B": ports.ports[-replicas:]}
        ports.release()
        p.ports.release()
        for name, cfg in p.nodes().items():
            if not name.startswith("gateway"):
                path = root / f"{name}.json"
                path.write_text(cfg.model_dump_json(indent=2))
                procs.start(name, ["serve", cfg.kind, "--config", str(path)])
        entries = []
        for i in range(replicas):
            b_addr = p.gateway_a.peers[B].model_copy(update={"address": f"127.0.0.1:{b_ports[i]}"})
            gb = p.gateway_b.model_copy(
                update={
                    "listen": b_addr.address,
                    "store": store,
                    "observability": _metrics_at(metrics_ports["gateway B"][i]),
                }
            )
            ga = p.gateway_a.model_copy(
                update={
                    "listen": f"127.0.0.1:{a_ports[i]}",
                    "store": store,
                    "peers": {B: b_addr},
                    "observability": _metrics_at(metrics_ports["gateway A"][i]),
                }
            )
            for name, cfg in ((f"gateway-b{i}", gb), (f"gateway-a{i}", ga)):
                path = root / f"{name}.json"
                path.write_text(cfg.model_dump_json(indent=2))
                procs.start(name, ["serve", "gateway", "--config", str(path)])
            entries.append(PeerAddress(tls_name=p.gateway_a.tls_name, address=ga.listen))
        from mmmfed.client import wait_serving

        for cfg in (p.instance_a, p.instance_b, p.bridge):
            await wait_serving(p.operator_for(cfg), peer(cfg))
        for i in range(replicas):
            for address in (entries[i].address, f"127.0.0.1:{b_ports[i]}"):
                gateway = p.gateway_a if address == entries[i].address else p.gateway_b
                await wait_serving(p.operator_for(gateway), PeerAddress(tls_name=gateway.tls_name, address=address))
        procs.check_alive()
        op = p.operator_tls
        async with OperatorClient(op, instance=peer(p.instance_a), gateway=entries[0]) as at_a:
            await at_a.negotiate(B)
        # Resolve as instance A calls it (its own certificate): an operator is NOT_OWN_INSTANCE.
        channels = [secure_channel(p.instance_a.tls, entry) for entry in entries]
        stubs = [gateway_pb2_grpc.PlatformGatewayStub(c).Resolve for c in channels]
        counter = iter(range(10**9))

        def call() -> Awaitable[papb.ProcessActionResponse]:
            n = next(counter)
            return stubs[n % replicas](resolve_request(VISITOR, n))

        pids = {
            "gateway A": [procs.procs[f"gateway-a{i}"].pid for i in range(replicas)],
            "gateway B": [procs.procs[f"gateway-b{i}"].pid for i in range(replicas)],
        }
        counters: dict[str, Callable[[], float]] = {
            name: partial(store_round_trips, ports) for name, ports in metrics_ports.items()
        }
        counters["redis commands"] = partial(redis_commands, redis_server)
        figures = await measure(
            call, calls=args.calls, total=args.total, in_flight=args.in_flight, pids=pids, counters=counters
        )
        for channel in channels:
            await channel.close()
        trips = {name: figures.counted[name] for name in metrics_ports}
        return ReplicaFigures(figures, figures.counted["redis commands"], trips)
    finally:
        procs.stop()
        redis_server.stop()
