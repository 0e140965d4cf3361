"""Signed Items verified end to end through both gateways in federation transactions (issue 18
item 2), beside raw libsodium verifications on one core measured in the same run.

What is measured: the client, with instance A's certificate (as instance A calls its gateway),
hands gateway A Persona Items of a.example (``PlatformGateway.SendToPeer``, RI-1). Gateway A
signs each (eddsa-jcs-2022, its instance key), queues them in its lane to b.example and sends
them in transactions (``Federation.SendTransaction``, RE-1). Gateway B checks each transaction
(limits, origin, agreement), verifies every Item by the full pipeline (strict parse, V2.2
conformance, schema, Rules, origin, keyring, proof), writes one audit group commit per
transaction and the transaction's record, and answers a result per Item. Every node is its own
process (``mmmfed serve``), every leg gRPC over mutual TLS on loopback.

* ``batched``: ``--in-flight`` submissions of 50 Items at a time: transactions of 50.
* ``unbatched``: one Item per submission, one submission at a time: transactions of 1.

Figure: Items per CPU-second of gateway B (user + system from /proc, over the phase): its Items/s
per core. Baseline: raw Ed25519 verifications per CPU-second with libsodium (PyNaCl
``VerifyKey.verify``) on 64-byte messages in this process, one core, timed between the phases
(CPU time on both sides: wall time made the baseline fall, and the ratio rise, with the load of
other processes on the machine). Target: batched >= 0.5 x libsodium. Exits non-zero if an
Item is refused or a call fails.

Last line: ``RESULT items_per_core_vs_libsodium=R unbatched_items_per_core_vs_libsodium=U ...``.

``--where`` runs one more batched phase with py-spy sampling gateway B and prints where its CPU
per Item goes, by component (:mod:`bench.where`).

Run (from the checkout):  .venv/bin/python bench/federation.py [--items 5000] [--quick] [--where]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import grpc
import nacl.signing
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script (python bench/federation.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.resolve_measure import cpu_seconds
from bench.verify import persona
from bench.where import report as report_where
from bench.where import sampling
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.inprocess import peer
from mmmfed.cli.loopback import B, plan
from mmmfed.cli.processes import NodeProcesses
from mmmfed.client import OperatorClient
from mmmfed.tls import secure_channel

Send = Callable[[fpb.SendToPeerRequest], Awaitable[fpb.SendToPeerResponse]]
TARGET_VS_LIBSODIUM = 0.5
BATCH = 50


def libsodium_per_s(seconds: float) -> float:
    """Raw Ed25519 verifications per CPU-second of one core (libsodium), over ``seconds`` of this
    thread's CPU time: the same clock as gateway B's figure, so that a machine shared with other
    work slows neither side of the ratio more than the other."""
    key = nacl.signing.SigningKey.generate()
    verify = key.verify_key.verify
    pairs = [(m, key.sign(m).signature) for m in (os.urandom(64) for _ in range(256))]
    done, t0 = 0, time.thread_time()
    while time.thread_time() - t0 < seconds:
        for message, signature in pairs:
            verify(message, signature)
        done += len(pairs)
    return done / (time.thread_time() - t0)


async def phase(send: Send, items: Sequence[bytes], *, per_call: int, in_flight: int, pid: int) -> tuple[float, float]:
    """Send ``items`` in submissions of ``per_call``, ``in_flight`` at a time; returns (Items per
    CPU-second of gateway B, Items/s wall)."""
    calls = [items[i : i + per_call] for i in range(0, len(items), per_call)]
    queue = iter(calls)

    async def worker() -> None:
        for chunk in queue:
            entries = [fpb.FederationEntry(item_json=raw) for raw in chunk]
            answer = await send(fpb.SendToPeerRequest(peer_m_instance_id=B, entries=entries))
            refused = [r for r in answer.results if not r.accepted]
            if refused:
                raise RuntimeError(f"{len(refused)} Items refused: {refused[0].reason} {refused[0].message}")

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    cpu, wall = cpu_seconds(pid) - cpu0, time.perf_counter() - t0
    return len(items) / cpu, len(items) / wall


async def run(args: argparse.Namespace, workdir: Path, console: Console) -> int:
    p = plan(workdir)
    procs = NodeProcesses(workdir)
    rng = random.Random(0)
    items = [persona(i, rng).raw for i in range(args.items)]
    try:
        procs.start_plan(p, workdir)
        await procs.wait_ready(p)
        async with OperatorClient(p.operator_tls, instance=peer(p.instance_a), gateway=peer(p.gateway_a)) as at_a:
            await at_a.negotiate(B)
        pid = procs.procs["gateway-b"].pid
        async with secure_channel(p.instance_a.tls, peer(p.gateway_a)) as channel:
            send = gateway_pb2_grpc.PlatformGatewayStub(channel).SendToPeer
            await phase(send, items[:BATCH], per_call=BATCH, in_flight=1, pid=pid)  # warm-up: keyring, schemas
            figures: dict[str, list[float]] = {"batched": [], "unbatched": [], "libsodium": []}
            for i in range(args.rounds):
                console.print(f"round {i + 1} of {args.rounds} ...")
                per_core, wall = await phase(send, items, per_call=BATCH, in_flight=args.in_flight, pid=pid)
                figures["batched"] += [per_core, wall]
                figures["libsodium"].append(libsodium_per_s(args.libsodium_s))
                unbatched = items[: args.unbatched_items]
                per_core, wall = await phase(send, unbatched, per_call=1, in_flight=1, pid=pid)
                figures["unbatched"] += [per_core, wall]
            if args.where:  # once more, gateway B sampled: where its CPU per Item goes
                console.print("batched again, gateway B sampled by py-spy (--where) ...")
                async with sampling({"gateway B": pid}) as splits:
                    per_core, _ = await phase(send, items, per_call=BATCH, in_flight=args.in_flight, pid=pid)
                report_where(splits, {"gateway B": 1e6 / per_core}, "Item", console)
    except (grpc.aio.AioRpcError, RuntimeError) as err:
        console.print(f"[bold red]bench failed:[/] {err}")
        for name, tail in procs.log_tails().items():
            console.print(f"--- {name}\n{tail}")
        return 1
    finally:
        procs.stop()
    report(figures, console)
    return 0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def report(figures: dict[str, list[float]], console: Console) -> None:
    libsodium = _median(figures["libsodium"])
    per_core = {k: _median(figures[k][0::2]) for k in ("batched", "unbatched")}
    wall = {k: _median(figures[k][1::2]) for k in ("batched", "unbatched")}
    table = Table(title="Items verified end to end through both gateways (median of rounds)")
    for column in ("path", "Items/CPU-s of gateway B", "Items/s wall", "vs libsodium (1 core)"):
        table.add_column(column, justify="right")
    table.add_row("libsodium raw verify", f"{libsodium:,.0f}", "", "1.00")
    for name in ("batched", "unbatched"):
        label = f"{name} (transactions of {BATCH if name == 'batched' else 1})"
        table.add_row(label, f"{per_core[name]:,.0f}", f"{wall[name]:,.0f}", f"{per_core[name] / libsodium:.2f}")
    console.print(table)
    ratio = per_core["batched"] / libsodium
    met = "met" if ratio >= TARGET_VS_LIBSODIUM else "NOT met"
    console.print(f"target batched >= {TARGET_VS_LIBSODIUM} x libsodium: {met} ({ratio:.2f})")
    print(
        f"RESULT items_per_core_vs_libsodium={ratio:.3f}"
        f" unbatched_items_per_core_vs_libsodium={per_core['unbatched'] / libsodium:.3f}"
        f" items_per_core={per_core['batched']:.0f} unbatched_items_per_core={per_core['unbatched']:.0f}"
        f" libsodium_verifications_per_s={libsodium:.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000, help="Items per batched phase")
    parser.add_argument("--unbatched-items", type=int, default=500, help="Items per unbatched phase")
    parser.add_argument("--in-flight", type=int, default=4, help="submissions of 50 in flight (batched)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--libsodium-s", type=float, default=1.0, help="seconds of raw verifies per round")
    parser.add_argument("--quick", action="store_true", help="a short run: 1,000 and 200 Items, 1 round")
    parser.add_argument(
        "--where", action="store_true", help="then a batched phase under py-spy: where gateway B's CPU per Item goes"
    )
    args = parser.parse_args()
    if args.quick:
        args.items, args.unbatched_items, args.rounds, args.libsodium_s = 1000, 200, 1, 0.5
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="mmmfed-bench-federation-") as tmp:
        code = asyncio.run(run(args, Path(tmp), console))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
