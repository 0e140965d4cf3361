"""Where a node's CPU goes during a benchmark phase (issue 18: "the profile that says where the
time goes and what floor stops it"), from ``py-spy`` samples of the running process.

:func:`sampling` runs one ``py-spy record --gil --nonblocking`` per named process while a phase
runs (``--gil``: a sample is taken only while some thread of the process holds the GIL, i.e. runs
Python or C called from Python with the GIL held; ``--nonblocking``: the process is never
paused). Each sample's stack is put in the first component that one of its frames belongs to,
read from the innermost frame outwards (:data:`COMPONENTS`); a stack none claims is the event loop
with the gRPC core's Cython and C code, which py-spy shows as the frame that entered it
(``Runner.run``). What runs without the GIL (libsodium's verify: PyNaCl's cffi releases it;
SQLite's steps and fsyncs; the gRPC core's own threads and TLS) is not sampled: it is the
process's CPU time (``/proc``) less the sampled time, shown as its own line.

Used by ``bench/resolve.py --where`` and ``bench/federation.py --where``; py-spy (a PyPI package,
in the dev extras) needs ptrace rights over the nodes, which their parent has as root or with
``kernel.yama.ptrace_scope`` 0. When it cannot attach, the table says so and the bench goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

RATE_HZ = 250
OTHER = "event loop, gRPC core (Cython/C)"
# (component, path fragments of its frames): the innermost frame that matches decides.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("audit log (durable, group commit)", ("/mmmfed/audit/", "/mmmfed/store/group_commit.py", "/gateway/refusals.py")),
    (
        "Items: strict JSON, V2.2, schemas, proofs",
        (
            "/mmmfed/proofs/",
            "/mmmfed/strictjson.py",
            "/mmmfed/v22/",
            "/mmmfed/schemas/",
            "/mmmfed/items.py",
            "/mmmfed/did.py",
            "/mmmfed/rules.py",
            "/gateway/verification.py",
            "/gateway/keyring.py",
            "/nacl/",
        ),
    ),
    (
        "thread hand-off (writer thread, pool)",
        ("/mmmfed/store/writer_thread.py", "/concurrent/futures/", "/asyncio/threads.py", "/threading.py"),
    ),
    (
        "authorization, metrics, deadlines",
        (
            "/mmmfed/server.py",
            "/mmmfed/rpc.py",
            "/mmmfed/tls.py",
            "/mmmfed/trust.py",
            "/mmmfed/deadlines.py",
            "/mmmfed/metrics.py",
            "/prometheus_client/",
        ),
    ),
    ("gateway: agreements, Resolution, transactions", ("/gateway/", "/mmmfed/store/")),
    ("gRPC Python layer (grpc.aio calls)", ("/grpc/",)),
)


@dataclass
class Split:
    """Samples of one process by component; ``error`` when py-spy could not sample it."""

    samples: Counter[str] = field(default_factory=Counter)
    error: str = ""

    @property
    def total(self) -> int:
        return sum(self.samples.values())


def component(stack: str) -> str:
    """The component of one collapsed stack (``function (path:line);...``, outermost first; py-spy
    writes the paths of the checkout relative to it, ``mmmfed/rpc.py``, others absolute)."""
    for frame in reversed(stack.split(";")):
        path = "/" + frame.rpartition(" (")[2].lstrip("/")
        for name, fragments in COMPONENTS:
            if any(fragment in path for fragment in fragments):
                return name
    return OTHER


def split_raw(text: str) -> Split:
    """A py-spy ``--format raw`` file's samples by component (lines ``stack count``)."""
    split = Split()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            split.samples[component(stack)] += int(count)
    return split


@contextlib.asynccontextmanager
async def sampling(pids: Mapping[str, int]) -> AsyncIterator[dict[str, Split]]:
    """Sample each named process while the block runs; the dict is filled when it ends."""
    splits: dict[str, Split] = {}
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="mmmfed-where-") as tmp:
        outs = {name: Path(tmp) / f"{pid}.txt" for name, pid in pids.items()}
        procs: dict[str, asyncio.subprocess.Process] = {}
        for name, pid in pids.items():
            command = ["record", "--gil", "--nonblocking", "-r", str(RATE_HZ), "-f", "raw", "-o", str(outs[name])]
            try:
                procs[name] = await asyncio.create_subprocess_exec(
                    spy, *command, "-p", str(pid), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
                )
            except OSError as err:
                splits[name] = Split(error=f"py-spy did not start: {err}")
        await asyncio.sleep(0.5)  # attached before the phase starts
        try:
            yield splits
        finally:
            for name, proc in procs.items():
                splits[name] = await _stopped(proc, outs[name])


async def _stopped(proc: asyncio.subprocess.Process, out: Path) -> Split:
    """Stop one py-spy (SIGINT: it writes its file then) and read its samples."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    except TimeoutError:
        proc.kill()
        return Split(error="py-spy did not stop")
    text = await asyncio.to_thread(_read_if_there, out)
    if text is not None:
        return split_raw(text)
    lines = stderr.decode(errors="replace").strip().splitlines()
    return Split(error=lines[-1] if lines else "no samples")


def _read_if_there(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def report(splits: Mapping[str, Split], cpu_us: Mapping[str, float], unit: str, console: Console) -> None:
    """One table: per process, the share of its GIL-held samples in each component, its sample
    count and its CPU per ``unit`` (``cpu_us``, from /proc over the phase). Shares, not times: a
    thread keeps the GIL while the machine runs something else, so on a loaded machine samples
    outnumber CPU time; the shares stay those of the work. The process's CPU that ran without the
    GIL (libsodium, SQLite, the gRPC core's threads) is in its CPU figure, not in the shares."""
    table = Table(title=f"where the Python time goes (py-spy --gil, {RATE_HZ} Hz)")
    table.add_column("component")
    for name in splits:
        table.add_column(name, justify="right")
    for row in [name for name, _ in COMPONENTS] + [OTHER]:
        table.add_row(
            row,
            *(
                f"{100 * split.samples[row] / split.total:.1f}%" if split.total else split.error[:40]
                for split in splits.values()
            ),
        )
    table.add_row("samples", *(f"{split.total:,}" for split in splits.values()))
    table.add_row(f"process CPU us per {unit}", *(f"{cpu_us.get(name, 0.0):,.0f}" for name in splits))
    console.print(table)
