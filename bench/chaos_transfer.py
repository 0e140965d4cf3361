"""Crash testing of asset migration (issue 5, item 6): kill nodes mid-transfer, restart them, and
check that every Asset still has exactly one owner of record and that the money adds up.

Set-up, once per run: a loopback federation (``mmmfed.cli.loopback.plan``) with every node its
own ``mmmfed serve`` process, as ``mmmfed demo`` starts them, each with
``MMMFED_CRASHPOINT_FILE=<workdir>/crash-<node>`` (:mod:`mmmfed.crashpoints`). The gateways
negotiate both ways; Assets (small glTF samples) are minted and payer Wallets funded up front.

Each round (``random.Random(seed)``): pick a direction (mostly a -> b), an OWNED Asset at the
origin, maybe a payment, and a transfer timeout (mostly ``--timeout-ms``; some short enough to
expire while a node restarts, so aborts run under crashes too); arm one crash point (the 15 of
:mod:`mmmfed.crashpoints` come up in a shuffled cycle followed by one round without a crash, so 16
rounds cover every point; a ``wallet.pay`` point makes the round a Transact between two Processes
instead, :mod:`bench.chaos_payments`); call TransferAsset at the origin (again, with the same transfer id,
while it fails UNAVAILABLE); restart every node that died; wait until both sides record the
transfer terminal (``--round-timeout-s``); then check the invariants over both ledgers and both
gateways' audit logs (:func:`bench.chaos_invariants.check_invariants`). A violation is counted once, in the first round
that shows it. A harness failure (e.g. a node that does not restart) exits 2.

Prints one line per round to stderr and, on stdout, the summary
``rounds=N duplicated=D lost=L stuck=S unbalanced=U`` and, last, the same counts as
``RESULT rounds=N duplicated=D lost=L stuck=S unbalanced=U`` (the machine-readable line of every
bench; no baseline here: each count's bar is 0); exit code 0 iff all four are 0. Node logs
are in ``<workdir>/logs``; the workdir is kept (and printed) when a counter is not 0.

This module reads the options, runs the rounds and prints the summary; beside it,
bench/chaos_cluster.py runs the nodes as restartable processes, bench/chaos_driver.py holds the
set-up, the crash schedule and the rounds, and bench/chaos_invariants.py the invariants.

Run (from the checkout):  .venv/bin/python -m bench.chaos_transfer --rounds 100 --seed 7
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

if not __package__:  # run as a script (python bench/chaos_transfer.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.chaos_cluster import Cluster
from bench.chaos_driver import Chaos, CrashSchedule
from mmmfed.cli.loopback import plan


async def run(chaos: Chaos, rounds: int) -> None:
    try:
        await chaos.setup()
        schedule = CrashSchedule(chaos.rng)
        for index in range(1, rounds + 1):
            point, again = schedule.next()
            line, reached = await chaos.round(index, point, long_timeout=again)
            print(line, file=sys.stderr, flush=True)
            if not reached and not again:
                schedule.retry = point
    finally:
        await chaos.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary directory (kept on failure)")
    parser.add_argument("--timeout-ms", type=int, default=4000, help="TransferAssetRequest.timeout_ms")
    parser.add_argument("--round-timeout-s", type=float, default=30.0, help="a transfer not terminal by then is stuck")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mmmfed-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `timeout` unwinds like Ctrl-C
    cluster = Cluster(plan(workdir), workdir)
    chaos = Chaos(cluster, seed=args.seed, timeout_ms=args.timeout_ms, round_timeout_s=args.round_timeout_s)
    t0, code = time.monotonic(), 0
    try:
        asyncio.run(run(chaos, args.rounds))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as err:  # the harness could not go on (e.g. a node would not restart): exit 2
        print(f"chaos_transfer stopped after {chaos.totals.rounds} rounds: {err!r}", file=sys.stderr)
        code = 2
    finally:
        cluster.stop()
    print(f"{chaos.totals.rounds} rounds in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    if chaos.totals.failed or code:
        print(f"workdir kept: {workdir} (node logs in {cluster.logs})", file=sys.stderr)
    elif args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    print(chaos.totals.line())
    print(f"RESULT {chaos.totals.line()}", flush=True)
    return code or (1 if chaos.totals.failed else 0)


if __name__ == "__main__":
    sys.exit(main())
