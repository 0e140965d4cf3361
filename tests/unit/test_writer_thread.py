"""The audit log's writer thread (mmmfed/store/writer_thread.py; LAF, FGMV-43 7.5.3, issue 18
item 1): calls run one at a time in order on one thread, results and errors come back, a
cancelled caller does not stop its write, and an idle thread ends and is replaced."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mmmfed.store import writer_thread
from mmmfed.store.writer_thread import WriterThread


async def test_calls_run_in_order_on_one_thread_and_return_their_results() -> None:
    writer = WriterThread("test-writer")
    seen: list[tuple[int, str]] = []

    def write(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * n

    results = await asyncio.gather(*(writer.run(write, n) for n in range(50)))
    writer.stop()
    assert results == [n * n for n in range(50)]
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test-writer"}


async def test_an_error_reaches_its_caller_and_the_next_call_still_runs() -> None:
    writer = WriterThread("test-writer")

    def fail() -> None:
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        await writer.run(fail)
    assert await writer.run(lambda: "next") == "next"
    writer.stop()


async def test_a_cancelled_caller_does_not_stop_its_write() -> None:
    writer = WriterThread("test-writer")
    started, release, written = threading.Event(), threading.Event(), threading.Event()

    def slow_write() -> str:
        started.set()
        release.wait(5)
        written.set()
        return "durable"

    pending = writer.run(slow_write)
    await asyncio.to_thread(started.wait, 5)
    pending.cancel()
    release.set()
    assert await writer.run(lambda: written.is_set()) is True  # in order: the write had completed
    writer.stop()


async def test_an_idle_thread_ends_and_the_next_call_starts_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_thread, "IDLE_EXIT_S", 0.05)
    writer = WriterThread("test-writer")
    first = await writer.run(threading.current_thread)
    await asyncio.to_thread(first.join, 5)
    assert not first.is_alive(), "the idle thread did not end"
    assert await writer.run(lambda: 7) == 7  # a new thread serves it
    writer.stop()
    assert not any(t.name == "test-writer" and t.is_alive() for t in threading.enumerate())
