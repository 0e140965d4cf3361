"""The C allocator of a node process (issue 18 item 4, the soak's memory bar).

A node's Python objects are only part of its memory: gRPC's C core, SQLite's page caches, Pillow
and the worker threads (the audit group commit's, the bridge's texture encoder) allocate with
glibc's ``malloc``, which gives every thread that allocates at once an arena of its own (up to 8
per core) and keeps freed memory in them. Over a 30-minute soak that showed as RSS growing while
the traced Python heap stayed flat (the bridge: tracemalloc's traced memory 1.6-2.2 MB over five
minutes, its anonymous RSS +6.8 MB). A node therefore

* limits glibc to :data:`DEFAULT_ARENA_MAX` arenas (``mallopt(M_ARENA_MAX)``), unless the
  environment sets ``MALLOC_ARENA_MAX`` itself (glibc read it at start; the Helm chart sets it,
  ``malloc.arenaMax``), and
* gives free memory back to the system every ``MMMFED_MALLOC_TRIM_S`` seconds (default
  :data:`DEFAULT_TRIM_INTERVAL_S`; ``0`` turns it off) with ``malloc_trim(0)``, which also
  releases free pages inside the heaps, not only at their top.

On a C library that is not glibc (musl has no ``mallopt``/``malloc_trim``) both do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
from collections.abc import Mapping
from functools import cache

from mmmfed.errors import InvalidInput

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's <malloc.h>
DEFAULT_ARENA_MAX = 2
DEFAULT_TRIM_INTERVAL_S = 30.0
ARENA_ENV = "MALLOC_ARENA_MAX"
TRIM_ENV = "MMMFED_MALLOC_TRIM_S"


@cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


def limit_arenas(env: Mapping[str, str] = os.environ) -> int | None:
    """Limit glibc's malloc arenas for this process: to ``env["MALLOC_ARENA_MAX"]`` when set (glibc
    applied it at start; nothing more is done), else to :data:`DEFAULT_ARENA_MAX`. Call before the
    node starts threads. Returns the limit in force, None when the C library is not glibc or
    the variable is not a positive integer (then glibc's default stays). Never raises."""
    libc = _glibc()
    if libc is None:
        return None
    configured = env.get(ARENA_ENV)
    if configured is not None:
        return int(configured) if configured.isdigit() and int(configured) > 0 else None
    if libc.mallopt(M_ARENA_MAX, DEFAULT_ARENA_MAX) != 1:  # mallopt returns 1 on success
        return None
    return DEFAULT_ARENA_MAX


def trim() -> bool:
    """``malloc_trim(0)``: give the free memory of every arena back to the system. True if some
    was released; False when none was or the C library is not glibc."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


def trim_interval_s(env: Mapping[str, str] = os.environ) -> float:
    """Seconds between trims: ``MMMFED_MALLOC_TRIM_S`` (0 or less: never), default
    :data:`DEFAULT_TRIM_INTERVAL_S`; InvalidInput ``MALLOC_TRIM_INVALID`` naming the variable if it
    is not a number."""
    text = env.get(TRIM_ENV)
    if text is None:
        return DEFAULT_TRIM_INTERVAL_S
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"{TRIM_ENV}={text[:64]!r} is not a number of seconds; set it to e.g. 30, or 0 to turn trimming off",
            reason="MALLOC_TRIM_INVALID",
        ) from None


async def trim_periodically(interval_s: float) -> None:
    """:func:`trim` every ``interval_s`` seconds until cancelled (nothing if ``interval_s`` <= 0
    or the C library is not glibc). Each trim runs in a worker thread (ctypes releases the GIL):
    it walks every free chunk, about 90 ms for a 400 MB fragmented heap on this kind of machine,
    which would otherwise stall the event loop."""
    if interval_s <= 0 or _glibc() is None:
        return
    while True:
        await asyncio.sleep(interval_s)
        await asyncio.to_thread(trim)
