"""The event loop every node process runs on (issue 18 item 1): uvloop's, libuv under asyncio's API.

Measured with bench/resolve.py, the same run's bare Python relays on the same loop: a node's
asyncio scheduling (its callbacks, futures and the grpc.aio poller's wake-ups) is a large share of
a gateway's CPU per request, and uvloop does it in C.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new uvloop event loop, as :func:`asyncio.run` would (the loop
    closed, its async generators and default executor shut down, at the end); returns its result."""
    return uvloop.run(main)
