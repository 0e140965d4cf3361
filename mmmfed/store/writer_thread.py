"""One long-lived thread for an event loop's blocking writes (the embedded audit log's fsyncs).

``asyncio.to_thread`` hands each call to a pool: a context copy, a ``concurrent.futures`` future
with its lock and condition, a work item, a wrapping asyncio future chained to it, each in Python.
For the audit log's group commits, one per request at low load, that hand-off was 7-9% of a
gateway's Python time (``bench/resolve.py --where``; issue 18 item 1, "the audit entry's thread
hop"). :class:`WriterThread` keeps one thread on a queue instead: a call is a queue put, and its
result comes back with one ``call_soon_threadsafe``. The write itself, and its durability, are
unchanged: the caller's future resolves only when the call has returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
IDLE_EXIT_S = 30.0  # an idle thread ends; the next call starts another


class WriterThread:
    """Runs blocking calls one at a time, in submission order, on one thread (started on the
    first call, ended after :data:`IDLE_EXIT_S` idle or by :meth:`stop`)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop] | None]
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on the thread; await the returned future for its result or exception.
        Cancelling the future does not stop a call already queued or running (a write in flight
        completes; its result is dropped)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._jobs.put((lambda: fn(*args), done, loop))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
        return done

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the thread after the calls queued before this one (blocks up to ``timeout_s``)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._jobs.put(None)
        if thread is not None:
            thread.join(timeout_s)

    def _serve(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:  # a call queued meanwhile is served by this thread, not orphaned
                    if self._jobs.empty():
                        if self._thread is threading.current_thread():  # not a successor after stop()
                            self._thread = None
                        return
                continue
            if job is None:
                return
            call, done, loop = job
            try:
                result, error = call(), None
            except BaseException as err:  # handed to the caller, whatever it is
                result, error = None, err
            with contextlib.suppress(RuntimeError):  # the caller's loop has closed: nobody waits
                loop.call_soon_threadsafe(_resolve, done, result, error)


def _resolve(done: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if done.done():  # cancelled by its caller
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)
