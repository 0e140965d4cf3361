"""Diagnosis only (issue 18 item 4): run a node (``python -m mmmfed`` with the same arguments)
under tracemalloc (from 15 s after its start), writing every ``MMMFED_SOAK_TRACE_S`` seconds (default 30) to
``MMMFED_SOAK_TRACE_DIR`` a tracemalloc snapshot (``snap-<s>.pickle``), and a line of
``stats.jsonl``: the traced Python heap, SQLite's own allocator (``sqlite3_memory_used``), glibc's
``mallinfo2`` and ``/proc/self/smaps_rollup``, and the 40 commonest long-lived object types (``gc``).

bench/chaos_cluster.py starts the nodes named in ``MMMFED_SOAK_TRACE`` (comma-separated) this way.
The statistics walk only the oldest generation of the collector (``gc.get_objects(generation=2)``,
where the World and its caches live): holding references to every object from this thread once
made a node's ``_PyTuple_Resize`` (which needs the only reference) fail a request with
``SystemError: bad argument to internal function``; with the oldest generation only that is much
less likely but still possible, so a traced run's errors are not the product's.

``MMMFED_SOAK_TRACE_FRAMES`` (default 8; 0: no tracemalloc, the statistics only) sets the frames
kept per allocation; ``MMMFED_SOAK_TRACE_SHRINK=N`` divides the World's bounded memories by N
(they fill N times sooner).
Compare two snapshots with ``python bench/soak_trace.py --compare OLD NEW``.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = int(os.environ.get("MMMFED_SOAK_TRACE_FRAMES", "8"))
"""Frames per traceback; 0: no tracemalloc (only the statistics)."""
START_S = 15.0


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _deep(obj: object, seen: set[int]) -> int:
    """Bytes of ``obj`` and of everything it holds (``sys.getsizeof``, each object once)."""
    if id(obj) in seen or isinstance(obj, type):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        items = list(obj.items())
        return size + sum(_deep(k, seen) + _deep(v, seen) for k, v in items)
    if isinstance(obj, (list, tuple, set, frozenset)):
        return size + sum(_deep(v, seen) for v in list(obj))
    slots = [n for c in type(obj).__mro__ for n in getattr(c, "__slots__", ())]
    for name in slots:
        size += _deep(getattr(obj, name, None), seen)
    if hasattr(obj, "__dict__") and not callable(obj):
        size += _deep(vars(obj), seen)
    return size


def _world_sizes() -> dict[str, object]:
    """Per field of each World (and the caches of its spilled mappings): (entries, deep bytes)."""
    out: dict[str, object] = {}
    for obj in gc.get_objects(generation=2):
        if type(obj).__name__ != "World":
            continue
        for name in type(obj).__slots__:
            value = getattr(obj, name)
            held = getattr(value, "_cache", None) or getattr(value, "_held", None) or getattr(value, "_ids", None)
            target = value if held is None else held
            try:
                out[name] = (len(target), _deep(target, set()))
            except (TypeError, RuntimeError):
                continue
    return out


def _stats() -> dict[str, object]:
    out: dict[str, object] = {
        "world": _world_sizes(),
        "traced": tracemalloc.get_traced_memory()[0],
        "overhead": tracemalloc.get_tracemalloc_memory(),
    }
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        out["sqlite_used"] = lib.sqlite3_memory_used()
    except (OSError, AttributeError):
        pass
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    out["malloc_in_use"] = info.uordblks + info.hblkhd
    out["malloc_free"] = info.fordblks
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        if key in ("Rss", "Anonymous", "Private_Dirty", "Shared_Clean", "Private_Clean"):
            out[key] = int(value.split()[0]) * 1024
    out["types"] = collections.Counter(type(o).__name__ for o in gc.get_objects(generation=2)).most_common(40)
    return out


def _dumper(outdir: Path, every_s: float) -> None:
    time.sleep(START_S)  # tracing the imports and start-up would slow the node past its readiness wait
    if FRAMES:
        tracemalloc.start(FRAMES)
    t0 = time.monotonic()
    with open(outdir / "stats.jsonl", "a") as stats:
        while True:
            time.sleep(every_s)
            at = int(time.monotonic() - t0)
            if FRAMES:
                tracemalloc.take_snapshot().dump(str(outdir / f"snap-{at:05d}.pickle"))
            stats.write(json.dumps({"s": at, **_stats()}) + "\n")
            stats.flush()


def compare(old: str, new: str, top: int = 30) -> None:
    a, b = tracemalloc.Snapshot.load(old), tracemalloc.Snapshot.load(new)
    for key in ("lineno", "traceback"):
        print(f"--- by {key}")
        for stat in b.compare_to(a, key)[: top if key == "lineno" else 8]:
            print(stat)
            if key == "traceback":
                for line in stat.traceback.format()[-2 * FRAMES :]:
                    print("   ", line)


def _shrink(by: int) -> None:
    """Divide the instance's bounded memories by ``by`` (so that they fill early in a short run)."""
    import instance.world.spill as spill
    import instance.world.world as world

    spill.DOCS_IN_MEMORY //= by
    spill.HOLDERS_IN_MEMORY //= by
    limit = world.RECENT_LIMIT // by
    world.SeenResponses.__init__.__defaults__ = (limit,)
    world.RecentIds.__init__.__defaults__ = (limit, ())


def main() -> None:
    if sys.argv[1:2] == ["--compare"]:
        compare(sys.argv[2], sys.argv[3])
        return
    outdir = Path(os.environ["MMMFED_SOAK_TRACE_DIR"])
    outdir.mkdir(parents=True, exist_ok=True)
    every_s = float(os.environ.get("MMMFED_SOAK_TRACE_S", "30"))
    threading.Thread(target=_dumper, args=(outdir, every_s), daemon=True).start()
    if os.environ.get("MMMFED_SOAK_TRACE_SHRINK"):
        _shrink(int(os.environ["MMMFED_SOAK_TRACE_SHRINK"]))
    sys.argv = ["mmmfed", *sys.argv[1:]]
    runpy.run_module("mmmfed", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
