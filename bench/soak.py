"""A soak (issue 18 item 4): a mixed load through a full loopback federation, bounded in rate and
time, counting errors and watching each node's memory.

Every node (two M-Instances, their gateways, the bridge) runs as its own ``mmmfed serve``
process (:class:`bench.chaos_cluster.Cluster`). After the set-up (:mod:`bench.soak_load`), the
load runs ``--minutes`` at up to ``--rate`` operations/s, each drawn from the kinds of
:mod:`bench.soak_ops`: Transacts and Discovers through the instances' Act, Resolves through both
gateways, avatar migrations (through the bridge, and refused by the validator), Asset transfers
a -> b with payment, and the refusals it provokes (a Transact over the balance: InsValue; a
transfer by a Process that does not own the Asset: PERMISSION_DENIED NO_TRANSACT_RIGHT).

Prints, per kind, the operations that succeeded, the refusals expected and the unexpected errors
(the first ones' details); each node's RSS (VmRSS, MB) of its process and of its session (with
the workers it started) over time: after the warm-up (10% of the load time, at least 10 s and at
most 3 minutes, never more than half of it), every 10% of the load time (at least every 60 s),
half-way and at the end; per node the growth end / warm-up and the second half's growth end /
half-way (a leak keeps growing through the second half, a bounded cache stops once it is full);
the achieved rate beside the requested one. Baselines measured in the same run: the requested
rate (``rate_ratio`` = achieved / requested) and each node's RSS after the warm-up
(``max_rss_growth`` = the largest end / warm-up of a node's process) and half-way
(``second_half_growth_max`` = the largest end / half-way). The last line:

    RESULT minutes=M ops=N ops_per_s=R rate_ratio=Q unexpected_errors=E max_rss_growth=G errors=E
    rss_growth_max=G second_half_growth_max=H

(one line; ``errors`` and ``rss_growth_max`` are issue 18's names for the same two figures; bars
for a 30-minute run: errors 0, rss_growth_max <= 1.1). Exit code 0 when there was no unexpected
error, 1 otherwise, 2 when the harness failed (the federation did not start or set up). Node logs
are in ``<workdir>/logs``; the workdir is kept (and printed) unless the run was clean.

Why the warm-up is 10% of the run, up to 3 minutes (it was 10 s at most): a node's memory holds
bounded caches that this load fills over its first minutes, and growth while they fill is not a
leak. Measured at the default 20 operations/s (bench/soak_trace.py, the deep sizes of instance-b's
World): the last 2,048 Process Actions' answers (``World.seen``, about 1.1 KB each: 2.4 MB) and
ProcessActionIDs (``World.performed``, 0.5 MB), full after about 3.3 minutes; 1,024 Items in memory
(``spill.DOCS_IN_MEMORY``, about 4.5 KB each at b: 4.6 MB) after about 3.5 minutes; 1,024
Transactions (2.0 MB) after about 7 minutes; SQLite's page caches (the M-Instance database's 2 MB,
the spill's 1 MB) and glibc's free lists, a few MB more. Over an 8-minute run instance-b grew 142.6
-> 159.5 MB by the half-way point (4 minutes) and 159.5 -> 162.7 MB in the second half (then with a
leak since fixed: a receiving Process's Rights all kept in memory, 1.6 MB). A 10 s baseline, taken
before any of these had filled, counted all of that as growth; a 3-minute one still counts the
Transactions' and SQLite's filling (a few percent), so the figure errs on the side of growth. What
is not bounded and still grows: the state of every human the load registers (a User and a Device
Process, a Wallet, Personae: about 1.3 KB per human in memory; at a, 1.2 registered per s, about
2.7 MB over 30 minutes).

Run (from the checkout):  .venv/bin/python bench/soak.py --minutes 2 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as a script (python bench/soak.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.chaos_cluster import Cluster
from bench.soak_load import Samples, Soak
from bench.soak_ops import ERROR, OK, REFUSED, WEIGHTS
from mmmfed.cli.loopback import plan

MB = 1e6
QUICK_MINUTES = 0.2


async def run(soak: Soak, args: argparse.Namespace) -> bool:
    """Set up (False if that fails: a harness failure, reported on stderr), then the load."""
    try:
        await soak.setup()
    except Exception as err:  # whatever stops the set-up is a harness failure
        print(f"soak: set-up failed: {err!r}", file=sys.stderr)
        await soak.close()
        return False
    try:
        await soak.load(minutes=args.minutes, rate=args.rate, max_in_flight=args.max_in_flight, kinds=args.kinds)
    finally:
        await soak.close()
    return True


def _ratio(end: int, start: int) -> float:
    return end / start if start else float("inf")


def rss_tables(samples: Samples) -> tuple[dict[str, float], dict[str, float]]:
    """Print RSS per node over time (process/session, MB, one row per sample) and per node the
    growth end / warm-up and over the second half (end / half-way), of its process and of its
    session; returns the process's two growths per node."""
    nodes = sorted(samples.end)
    marks = {id(samples.warm): "warm-up", id(samples.half): "half-way", id(samples.end): "end"}
    print("\nRSS (MB) over time, process/session: warm-up = the baseline of growth, end = after the load drained")
    print(f"{'s':>7s}  " + " ".join(f"{node[:13]:>13s}" for node in nodes))
    for at, taken in samples.points:
        cells = " ".join(f"{taken.get(n, (0, 0))[0] / MB:6.1f}/{taken.get(n, (0, 0))[1] / MB:<6.1f}" for n in nodes)
        print(f"{at:7.1f}  {cells}  {marks.get(id(taken), '')}".rstrip())
    print(
        f"\n{'node':12s} {'warm-up':>8s} {'half':>7s} {'end':>7s} {'growth':>7s} {'2nd half':>8s}"
        f"   {'session':>7s} {'half':>7s} {'end':>7s} {'growth':>7s} {'2nd half':>8s}"
    )
    growth: dict[str, float] = {}
    second_half: dict[str, float] = {}
    for node in nodes:
        (warm, warm_s), (half, half_s), (end, end_s) = (
            samples.warm.get(node, (0, 0)),
            samples.half.get(node, (0, 0)),
            samples.end[node],
        )
        growth[node], second_half[node] = _ratio(end, warm), _ratio(end, half)
        print(
            f"{node:12s} {warm / MB:8.1f} {half / MB:7.1f} {end / MB:7.1f} "
            f"{growth[node]:6.2f}x {second_half[node]:7.2f}x"
            f"   {warm_s / MB:7.1f} {half_s / MB:7.1f} {end_s / MB:7.1f} {_ratio(end_s, warm_s):6.2f}x "
            f"{_ratio(end_s, half_s):7.2f}x"
        )
    print(
        f"(warm-up sampled at {samples.warm_at_s:.1f} s, half-way at {samples.half_at_s:.1f} s; growth = end / warm-up,"
    )
    print(" 2nd half = end / half-way: a leak keeps growing through the second half, a bounded cache stops once full)")
    return growth, second_half


def report(soak: Soak, args: argparse.Namespace) -> tuple[int, str]:
    """Print the tables; returns the unexpected error count and the RESULT line."""
    tally, samples = soak.tally, soak.samples
    for node, rc in soak.cluster.dead().items():
        tally.add("node", ERROR, f"{node} exited with {rc} during the soak")
    print(f"{'kind':16s} {'ok':>7s} {'refused':>8s} {'errors':>7s}  reasons")
    for kind in [*args.kinds, "drain", "node"]:
        ok, refused, errors = (tally.counts[kind, o] for o in (OK, REFUSED, ERROR))
        if ok + refused + errors == 0 and kind in ("drain", "node"):
            continue
        reasons = ", ".join(f"{d} x{n}" for (k, d), n in tally.reasons.most_common() if k == kind and n)
        print(f"{kind:16s} {ok:7d} {refused:8d} {errors:7d}  {reasons[:150]}")
    for line in tally.errors:
        print(f"  error: {line}")
    growth, second_half = rss_tables(samples)
    ops = tally.total()
    per_s = ops / soak.load_s if soak.load_s else 0.0
    unexpected = tally.total(ERROR)
    print(
        f"\n{ops} operations in {soak.load_s:.1f} s (then {soak.drain_s:.1f} s to drain): {per_s:.1f}/s against "
        f"{args.rate:g}/s requested ({per_s / args.rate:.2f}x); {tally.total(REFUSED)} refusals as provoked, "
        f"{unexpected} unexpected errors"
    )
    worst = max(growth.values(), default=0.0)
    worst_half = max(second_half.values(), default=0.0)
    bars = f"errors 0 ({'met' if unexpected == 0 else 'NOT met'}), rss_growth_max <= 1.10 "
    print(f"bars (for 30 minutes): {bars}({'met' if worst <= 1.1 else 'NOT met'}: {worst:.2f}x)")
    result = (
        f"RESULT minutes={args.minutes:g} ops={ops} ops_per_s={per_s:.2f} rate_ratio={per_s / args.rate:.2f} "
        f"unexpected_errors={unexpected} max_rss_growth={worst:.3f} errors={unexpected} rss_growth_max={worst:.3f} "
        f"second_half_growth_max={worst_half:.3f}"
    )
    return unexpected, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=1.0, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=20.0, help="operations started per second, at most")
    parser.add_argument("--quick", action="store_true", help=f"a short run: --minutes {QUICK_MINUTES}")
    parser.add_argument("--max-in-flight", type=int, default=32, help="operations running at once, at most")
    parser.add_argument(
        "--kinds",
        type=lambda text: [k.strip() for k in text.split(",") if k.strip()],
        default=list(WEIGHTS),
        help=f"the kinds of operation to run, of {','.join(WEIGHTS)} (default: all), e.g. to see "
        "which one a node's RSS grows with",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary directory (kept unless clean)")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = QUICK_MINUTES
    if args.minutes <= 0 or args.rate <= 0 or args.max_in_flight < 1:
        parser.error("--minutes and --rate must be > 0, --max-in-flight >= 1")
    if not args.kinds or set(args.kinds) - set(WEIGHTS):
        parser.error(f"--kinds: some of {','.join(WEIGHTS)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mmmfed-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `timeout` unwinds like Ctrl-C
    cluster = Cluster(plan(workdir), workdir)
    soak = Soak(cluster, seed=args.seed)
    t0 = time.monotonic()
    try:
        ready = asyncio.run(run(soak, args))
        unexpected, result = report(soak, args) if ready else (0, "")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        ready, unexpected, result = False, 0, ""
    finally:
        cluster.stop()
    print(f"soak: {time.monotonic() - t0:.1f} s in all", file=sys.stderr)
    if not ready or unexpected:
        print(f"workdir kept: {workdir} (node logs in {cluster.logs})", file=sys.stderr)
    elif args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if result:
        print(result, flush=True)
    return 2 if not ready else 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
