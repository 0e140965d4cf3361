"""A cross-instance Process Action round trip (MMM-TEC Resolution), beside the same call without
the gateways, through two nginx ``grpc_pass`` proxies, and through two bare Python proxies.

What is measured (issue 6, item 5): a Process of a.example asks b.example's Resolution Service to
Resolve an id, carrying one Item of a.example (a Message). Paths, every leg gRPC over mutual TLS
on loopback, every node its own process (``mmmfed serve``), the client this process:

* ``gateways``: client -> gateway A (PlatformGateway.Resolve: agreement check, signs the Item) ->
  gateway B (Federation.ForwardProcessAction: origin, agreement, the Item's schema, Rules and
  eddsa-jcs-2022 proof verified) -> instance B (Instance.Act: decided and recorded durably).
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

Every request is decided for real (and recorded in b.example's Activity Data with an fsync), so
each path carries the same instance cost. Exits non-zero if a call fails, 0 otherwise, whether or
not a target is met.

Run (from the checkout):  .venv/bin/python bench/resolve.py [--calls 300] [--total 2000]
                                  [--in-flight 64] [--rounds 3] [--replicas 1,2,3] [--paths ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import grpc
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script (python bench/resolve.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instance.world.itemdocs import item_doc
from instance.world.model import Action, Complement, ComplementKind, DeonticVerb, ProcessActionRequest
from instance.world.wire import request_to_proto
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.inprocess import peer
from mmmfed.cli.loopback import A, B, LoopbackPlan, PortReservation, plan, samples_dir
from mmmfed.cli.phase0 import registration_items
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import OperatorClient
from mmmfed.config import ObservabilityConfig, PeerAddress, StoreConfig, TlsConfig
from mmmfed.testing import RedisServer
from mmmfed.tls import secure_channel

NODES = {"gateway A": "gateway-a", "gateway B": "gateway-b", "instance B": "instance-b"}
LOCAL_USER = f"mmm://{B}/processes/bench-user"
"""The source of the local paths: a User of b.example (Users hold Resolve by their Account type)."""
VISITOR = f"mmm://{A}/processes/app"
"""The source of the gateway path: a Process of a.example (b's Rules let visitors Resolve)."""
PATHS = ("direct", "gateways", "nginx", "python relays")
CPU_TARGET_US = 500.0
P50_TARGET_RATIO = 3.5
Call = Callable[[], Awaitable[papb.ProcessActionResponse]]


# -- requests -----------------------------------------------------------------------------
def _message(n: int) -> dict[str, object]:
    """A small Message Item of a.example (~600 bytes of JSON), as a Process would carry it."""
    return item_doc(
        m_instance_id=A,
        item_id=f"mmm://{A}/messages/bench-{n}",
        item_type="ITM",
        sub_type="Message",
        producer_id=f"mmm://{A}/processes/app",
        time_ms=int(time.time() * 1000),
        fields={"Content": {"Text": "Is mmm://b.example/processes/registration where it says it is?"}},
        descr={"Name": f"bench message {n}"},
    )


def _request(source: str, n: int) -> papb.ProcessActionRequest:
    """Resolve b.example's Registration Service, asked of b.example's Resolution Service by
    ``source`` (a ProcessID), carrying one Message Item."""
    source_instance = source.removeprefix("mmm://").split("/", 1)[0]
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.RESOLVE,
        source,
        f"mmm://{B}/processes/resolution",
        (Complement(ComplementKind.NIL, f"mmm://{B}/processes/registration", is_process=True),),
        int(time.time() * 1000),
        process_action_id=f"mmm://{source_instance}/pa/bench-{uuid.uuid4().hex}",
        items=(_message(n),),
    )
    return request_to_proto(request, m_instance_id=source_instance)


def _registration() -> papb.ProcessActionRequest:
    """The App of b.example asks its Registration Service to Register bench-user (with the
    BoxTextured sample as Persona)."""
    avatar = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.REGISTER,
        f"mmm://{B}/processes/app",
        f"mmm://{B}/processes/registration",
        (),
        int(time.time() * 1000),
        process_action_id=f"mmm://{B}/pa/bench-register",
        items=tuple(registration_items(B, "bench-user", avatar, time_ms=int(time.time() * 1000))),
    )
    return request_to_proto(request, m_instance_id=B)


# -- the proxies ----------------------------------------------------------------------------
@dataclass
class Proxies:
    """Two chains of two proxies in front of instance B: nginx and bare Python relays."""

    nginx_entry: PeerAddress
    relay_entry: PeerAddress
    procs: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _nginx_conf(workdir: Path, name: str, listen: int, server: TlsConfig, upstream: PeerAddress) -> Path:
    """One nginx proxying every gRPC call to ``upstream`` over TLS with a client certificate."""
    root = workdir / name
    root.mkdir()
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  upstream next {{ server {upstream.address}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{listen} ssl http2;
    ssl_certificate {server.cert};
    ssl_certificate_key {server.key};
    ssl_client_certificate {server.ca_cert};
    ssl_verify_client on;
    location / {{
      grpc_pass grpcs://next;
      grpc_ssl_certificate {server.cert};
      grpc_ssl_certificate_key {server.key};
      grpc_ssl_trusted_certificate {server.ca_cert};
      grpc_ssl_verify on;
      grpc_ssl_name {upstream.tls_name};
      grpc_ssl_server_name on;
    }}
  }}
}}
""")
    return conf


def start_proxies(workdir: Path, p: LoopbackPlan) -> Proxies:
    """nginx -> nginx -> instance B and relay -> relay -> instance B. The hop next to instance B
    presents gateway B's certificate (instance B admits only its gateway and operators); the
    first hop presents gateway A's."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx not found: install Debian's nginx (apt-get install nginx-light)")
    ports = PortReservation(4)
    n1, n2, r1, r2 = ports.ports
    ports.release()
    instance_b = peer(p.instance_b)
    # The baseline hops trust both M-Instances' CAs (their trust set is not what is measured).
    roots = workdir / "relay-roots.pem"
    roots.write_bytes(p.gateway_a.tls.ca_cert.read_bytes() + p.gateway_b.tls.ca_cert.read_bytes())
    tls_a, tls_b = (cfg.tls.model_copy(update={"ca_cert": roots}) for cfg in (p.gateway_a, p.gateway_b))
    procs = []
    hop2 = PeerAddress(tls_name=p.gateway_b.tls_name, address=f"127.0.0.1:{n2}")
    for name, port, tls, upstream in (("nginx2", n2, tls_b, instance_b), ("nginx1", n1, tls_a, hop2)):
        conf = _nginx_conf(workdir, name, port, tls, upstream)
        procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(conf.parent)], stderr=subprocess.DEVNULL))
    relay_hop2 = PeerAddress(tls_name=p.gateway_b.tls_name, address=f"127.0.0.1:{r2}")
    for name, port, tls, upstream in (("relay2", r2, tls_b, instance_b), ("relay1", r1, tls_a, relay_hop2)):
        tls_file = workdir / f"{name}-tls.json"
        tls_file.write_text(tls.model_dump_json())
        argv = [sys.executable, str(Path(__file__).with_name("relay.py")), "--tls", str(tls_file)]
        argv += ["--listen", f"127.0.0.1:{port}", "--relay-to", upstream.address, "--relay-name", upstream.tls_name]
        procs.append(subprocess.Popen(argv))
    return Proxies(
        nginx_entry=PeerAddress(tls_name=p.gateway_a.tls_name, address=f"127.0.0.1:{n1}"),
        relay_entry=PeerAddress(tls_name=p.gateway_a.tls_name, address=f"127.0.0.1:{r1}"),
        procs=procs,
    )


# -- measuring ------------------------------------------------------------------------------
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


def _check(response: papb.ProcessActionResponse) -> None:
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
        _check(await call())
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        _check(await call())
        latencies.append((time.perf_counter() - start) * 1e6)
    latencies.sort()
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            _check(await call())

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
            _check(await at_b.instance.Act(ipb.ActRequest(request=_registration())))
        channels = {
            "direct": secure_channel(op_b, peer(p.instance_b)),
            "gateways": secure_channel(op, peer(p.gateway_a)),
            "nginx": secure_channel(op, proxies.nginx_entry),
            "python relays": secure_channel(op, proxies.relay_entry),
        }
        counter = iter(range(10**9))
        resolve = gateway_pb2_grpc.PlatformGatewayStub(channels["gateways"]).Resolve
        act = {
            name: instance_pb2_grpc.InstanceStub(channels[name]).Act for name in ("direct", "nginx", "python relays")
        }

        def local(name: str) -> Call:
            return lambda: act[name](ipb.ActRequest(request=_request(LOCAL_USER, next(counter))))

        paths: dict[str, Call] = {
            "direct": local("direct"),
            "gateways": lambda: resolve(_request(VISITOR, next(counter))),
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
    return 0


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


async def run_replicas(
    args: argparse.Namespace, workdir: Path, replicas: int, console: Console
) -> ReplicaFigures:
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
        channels = [secure_channel(op, entry) for entry in entries]
        stubs = [gateway_pb2_grpc.PlatformGatewayStub(c).Resolve for c in channels]
        counter = iter(range(10**9))

        def call() -> Awaitable[papb.ProcessActionResponse]:
            n = next(counter)
            return stubs[n % replicas](_request(VISITOR, n))

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
