"""Avatar migration without conversion, in MB/s, beside a raw gRPC stream of the same bytes.

What is measured: the wall time of ``OperatorClient.migrate`` (PlatformGateway.MigrateAvatar at
gateway a.example) for a Persona that b.example accepts directly, so the route is "direct":
instance A exports it from disk (ExportAvatar), gateway A streams it to gateway B
(TransferAvatar), gateway B streams it to instance B (ImportAvatar), which hashes it, writes it to
disk (fsync), checks it with ``inspect_glb`` and stores the Persona. Every leg is real gRPC over
mutual TLS on loopback, and every node is its own process (``mmmfed serve``), as deployed and as
in ``mmmfed demo``; the client is this process.

The avatar: BoxTextured.glb converted by the bridge's Conversion Service to b.example's limits
(<= 1500 triangles, JPEG textures <= 512 px), then enlarged to ``--mb`` MB by an unused
bufferView of random bytes appended to the BIN chunk: still a valid GLB within b's limits.
Each migration is of a fresh human (registered up front, untimed) with its own random bytes, so
b.example stores a new blob every time (its content-addressed store would skip a repeated one).

Baseline, measured in the same run and interleaved with the migrations: one client-streaming
call carrying the same bytes in chunks of ``mmmfed.streams.CHUNK_BYTES`` over mTLS on loopback
(gateway A's certificate to a server holding gateway B's) to a grpc.aio server in its own process
(bench/rawsink.py) that only counts them. For context, the same stream through one bare
pass-through relay process (client -> relay -> counting server), i.e. one Python hop.

Target (issue): migration >= 0.5 x the raw stream's MB/s, though the bytes cross both gateways.
MB = 10^6 bytes. Medians over ``--runs`` runs, after one warm-up of each path (channels and
handshakes are set up then, as in a running federation). Exits 0 whether or not the target is
met, non-zero if a migration fails. Last line: ``RESULT migrate_mb_per_s=M raw_mb_per_s=S migrate_vs_raw=R
migrate_vs_durable=D relay_vs_raw=L``.

Run (from the checkout):  .venv/bin/python bench/migrate.py [--mb 64] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script (python bench/migrate.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.rawsink import COUNT, SERVICE
from bridge.conversion import ConversionTarget, GltfValidator, convert
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.cli.inprocess import peer
from mmmfed.cli.loopback import B_MAX_TEXTURE_PX, B_MAX_TRIANGLES, B, LoopbackPlan, PortReservation, plan, samples_dir
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import OperatorClient
from mmmfed.config import PeerAddress
from mmmfed.errors import MmmfedError
from mmmfed.glb import GLB_MAGIC, inspect_glb, split_glb
from mmmfed.items import FORMAT_GLB
from mmmfed.streams import CHUNK_BYTES, chunked
from mmmfed.tls import secure_channel

MB = 1_000_000
MAX_ITEM_BYTES = 256 * 1024 * 1024  # the nodes' default max_item_bytes
TARGET_RATIO = 0.5
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_SINK = "/mmmfed.bench.RawSink/Count"
_RELAY = "/mmmfed.bench.RawSink/Relay"
Stream = grpc.aio.StreamUnaryMultiCallable[bytes, bytes]  # identity (de)serializers: bytes


# -- the avatar ---------------------------------------------------------------------------
def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def enlarge_glb(glb: bytes, extra_bytes: int, *, seed: int = 0) -> bytes:
    """``glb`` with an unused bufferView of ``extra_bytes`` random bytes appended to its BIN
    chunk (buffers[0].byteLength, chunk and header lengths updated; 4-byte aligned)."""
    doc, bin_chunk = split_glb(glb)
    bin_chunk = _pad(bin_chunk, b"\0")
    view = {"buffer": 0, "byteOffset": len(bin_chunk), "byteLength": extra_bytes}
    doc["bufferViews"].append(view)
    bin_chunk = _pad(bin_chunk + random.Random(seed).randbytes(extra_bytes), b"\0")
    doc["buffers"][0]["byteLength"] = len(bin_chunk)
    json_chunk = _pad(json.dumps(doc, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return b"".join(
        (
            GLB_MAGIC + struct.pack("<II", 2, total),
            struct.pack("<II", len(json_chunk), _CHUNK_JSON) + json_chunk,
            struct.pack("<II", len(bin_chunk), _CHUNK_BIN) + bin_chunk,
        )
    )


async def small_avatar() -> bytes:
    """BoxTextured converted by the bridge's Conversion Service to b.example's limits."""
    source = (samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb").read_bytes()
    target = ConversionTarget(max_triangles=B_MAX_TRIANGLES, texture_format="jpeg", max_texture_px=B_MAX_TEXTURE_PX)
    small, _ = await convert(source, target, validator=GltfValidator())
    return small


def big_avatar(small: bytes, size_bytes: int, *, seed: int) -> bytes:
    """``small`` enlarged to about ``size_bytes`` by random bytes from ``seed`` (one distinct
    file per human, so b.example stores a new blob each time; the length does not depend on
    ``seed``); checked with ``inspect_glb`` to be a GLB that b.example accepts directly."""
    data = enlarge_glb(small, size_bytes - len(small) - 64, seed=seed)
    facts = inspect_glb(data)
    fits = (
        facts.format == FORMAT_GLB
        and facts.triangles <= B_MAX_TRIANGLES
        and facts.texture_formats == ("image/jpeg",)
        and facts.max_texture_px <= B_MAX_TEXTURE_PX
        and facts.size == len(data)
    )
    if not fits:
        raise SystemExit(f"the enlarged avatar does not fit {B}'s limits: {facts}")
    return data


# -- the baseline: a raw client stream to a server process that counts bytes ----------------
def start_raw_servers(
    procs: NodeProcesses, fed: LoopbackPlan, work: Path
) -> tuple[dict[str, PeerAddress], PortReservation]:
    """Start the baseline servers, each its own process holding gateway B's certificate:
    ``sink`` (counts bytes), ``durable`` (hashes, writes and fsyncs them) and ``relay`` (a bare
    pass-through to ``sink``), and their reserved ports (release once they serve). Clients
    present gateway A's certificate: the servers trust both M-Instances' CAs (own first), and the
    returned addresses carry B's CA, which clients check the servers' certificate against."""
    roots = work / "rawsink-roots.pem"
    roots.write_bytes(fed.gateway_b.tls.ca_cert.read_bytes() + fed.gateway_a.tls.ca_cert.read_bytes())
    tls_path = work / "rawsink-tls.json"
    tls_path.write_text(fed.gateway_b.tls.model_copy(update={"ca_cert": roots}).model_dump_json())
    store_dir = work / "durable-sink"
    store_dir.mkdir()
    script = str(Path(__file__).resolve().parent / "rawsink.py")
    base = [sys.executable, script, "--tls", str(tls_path)]
    ports = PortReservation(3)
    b_ca = fed.gateway_b.tls.ca_cert
    addresses = {
        name: PeerAddress(tls_name=fed.gateway_b.tls_name, address=f"127.0.0.1:{port}", bundle=b_ca)
        for name, port in zip(("sink", "durable", "relay"), ports.ports, strict=True)
    }
    procs.start("rawsink", [*base, "--listen", addresses["sink"].address])
    procs.start("rawdurable", [*base, "--listen", addresses["durable"].address, "--store-dir", str(store_dir)])
    relay_to = addresses["sink"]
    procs.start(
        "rawrelay",
        [
            *base,
            "--listen",
            addresses["relay"].address,
            "--relay-to",
            relay_to.address,
            "--relay-name",
            relay_to.tls_name,
        ],
    )
    return addresses, ports


async def wait_raw(channel: grpc.aio.Channel, *, timeout_s: float = 20.0) -> None:
    await asyncio.wait_for(channel.channel_ready(), timeout_s)


async def stream_raw(stub: Stream, data: bytes) -> float:
    """Seconds to stream ``data`` in CHUNK_BYTES chunks and get the server's byte count."""

    async def requests() -> AsyncIterator[bytes]:
        for chunk in chunked(data, CHUNK_BYTES):
            yield chunk

    t0 = time.perf_counter()
    counted = int(await stub(requests()))
    seconds = time.perf_counter() - t0
    if counted != len(data):
        raise SystemExit(f"raw stream counted {counted} of {len(data)} bytes")
    return seconds


# -- the migration ------------------------------------------------------------------------
@dataclass
class Migrations:
    """Humans registered at a.example up front, one fresh one per migration."""

    at_a: OperatorClient
    users: list[str]
    size: int
    steps: dict[str, list[float]] = field(default_factory=dict)

    async def one(self) -> float:
        """Seconds of one ``migrate`` call; SystemExit unless MIGRATED by the direct route."""
        user = self.users.pop(0)
        t0 = time.perf_counter()
        response = await self.at_a.migrate(user, B)
        seconds = time.perf_counter() - t0
        ok = (
            response.outcome == gpb.MIGRATION_OUTCOME_MIGRATED
            and response.route == "direct"
            and response.bytes_sent == self.size
        )
        if not ok:
            raise SystemExit(
                f"migration of {user} failed: "
                f"outcome {gpb.MigrationOutcome.Name(response.outcome)}, "
                f"route {response.route!r}, {response.bytes_sent} of {self.size} bytes, "
                f"{response.refusal_reason}: {response.refusal_message}"
            )
        for step in response.timings:
            self.steps.setdefault(step.step, []).append(step.seconds)
        return seconds


async def prepare(at_a: OperatorClient, small: bytes, size: int, count: int, work: Path) -> list[str]:
    """Register ``count`` humans at a.example, each with its own avatar of about ``size``
    bytes (see :func:`big_avatar`), and negotiate a -> b (untimed)."""
    users = []
    for i in range(count):
        avatar = work / f"avatar-{i}.glb"
        avatar.write_bytes(big_avatar(small, size, seed=1 + i))
        reg = await at_a.register_human(f"bench-{i}", avatar)
        avatar.unlink()
        users.append(reg.user_process_id)
    await at_a.negotiate(B)
    return users


# -- report -------------------------------------------------------------------------------
def _rate(size: int, seconds: float) -> float:
    return size / MB / seconds


def report(size: int, runs: dict[str, list[float]], steps: dict[str, list[float]]) -> None:
    console = Console()
    title = f"{size / MB:.1f} MB in {CHUNK_BYTES // 1024} KiB chunks, mTLS loopback, medians"
    table = Table(title=title)
    for column in ("path", "runs", "median s", "MB/s", "MB/s min-max"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, times in runs.items():
        rates = [_rate(size, t) for t in times]
        table.add_row(
            name,
            str(len(times)),
            f"{statistics.median(times):.3f}",
            f"{_rate(size, statistics.median(times)):.1f}",
            f"{min(rates):.1f}-{max(rates):.1f}",
        )
    console.print(table)
    for step, times in steps.items():
        median = statistics.median(times)
        console.print(f"  migration step (gateway A's timer) {step}: median {median:.3f} s")
    raw = _rate(size, statistics.median(runs["raw stream"]))
    mig = _rate(size, statistics.median(runs["migrate (direct)"]))
    durable = _rate(size, statistics.median(runs["raw stream into a durable file"]))
    ratio = mig / raw
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"migrate: {mig:.1f} MB/s, raw stream: {raw:.1f} MB/s, ratio {ratio:.2f} (target >= {TARGET_RATIO}: {met})")
    print(
        f"raw stream into a durable file (sha-256 + write + fsync, the least an importing instance "
        f"does): {durable:.1f} MB/s; migrate / that: {mig / durable:.2f}"
    )
    relayed = _rate(size, statistics.median(runs["raw stream via 1 relay"]))
    print(
        f"RESULT migrate_mb_per_s={mig:.1f} raw_mb_per_s={raw:.1f} migrate_vs_raw={ratio:.2f} "
        f"migrate_vs_durable={mig / durable:.2f} relay_vs_raw={relayed / raw:.2f}",
        flush=True,
    )


async def bench(size_mb: int, runs: int) -> None:
    small = await small_avatar()
    data = big_avatar(small, size_mb * MB, seed=0)  # what the raw streams carry; same length
    with tempfile.TemporaryDirectory(prefix="mmmfed-bench-") as tmp:
        work = Path(tmp)
        fed = plan(work / "federation")
        procs = NodeProcesses(work)
        channels: list[grpc.aio.Channel] = []
        try:
            procs.start_plan(fed, work)
            raw_servers, raw_ports = start_raw_servers(procs, fed, work)
            await procs.wait_ready(fed)
            at_a = OperatorClient(fed.operator_tls, instance=peer(fed.instance_a), gateway=peer(fed.gateway_a))
            channels = [secure_channel(fed.gateway_a.tls, raw_servers[n]) for n in ("sink", "durable", "relay")]
            for channel in channels:
                await wait_raw(channel)
            raw_ports.release()
            streams: list[Stream] = [c.stream_unary(f"/{SERVICE}/{COUNT}") for c in channels]
            direct, durable, relayed = streams
            users = await prepare(at_a, small, size_mb * MB, runs + 1, work)
            migrations = Migrations(at_a, users, len(data))
            paths: dict[str, Callable[[], Awaitable[float]]] = {
                "raw stream": lambda: stream_raw(direct, data),
                "raw stream via 1 relay": lambda: stream_raw(relayed, data),
                "raw stream into a durable file": lambda: stream_raw(durable, data),
                "migrate (direct)": migrations.one,
            }
            for run in paths.values():  # warm-up: connect channels, first handshakes
                await run()
            migrations.steps.clear()
            times: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(runs):
                for name, run in paths.items():
                    times[name].append(await run())
            await at_a.close()
        finally:
            for channel in channels:
                await channel.close()
            procs.stop()
    report(len(data), times, migrations.steps)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="avatar size in MB (10^6 bytes)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each path")
    args = parser.parse_args(argv)
    if not 1 <= args.mb * MB < MAX_ITEM_BYTES or args.runs < 1:
        parser.error(f"need 1 <= --mb < {MAX_ITEM_BYTES // MB} and --runs >= 1")
    try:
        asyncio.run(bench(args.mb, args.runs))
    except MmmfedError as err:
        print(f"migration failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
