"""Streams of Item data: header first, then chunks, in order (ItemPart-style messages).

Item data is streamed through every node in chunks of :data:`CHUNK_BYTES`; nodes never hold a
whole file in memory on the stream-through path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar

from mmmfed.errors import InvalidInput

CHUNK_BYTES = 1024 * 1024
M = TypeVar("M")


async def split_header(
    requests: AsyncIterator[Any], *, header_field: str = "header"
) -> tuple[Any, AsyncIterator[bytes]]:
    """Read the first message of a ``oneof part {header; chunk}`` stream.

    Returns (header, the remaining chunks as bytes). Raises InvalidInput (``STREAM_ORDER``) if the
    stream is empty, starts with a chunk, or carries a second header.
    """
    first = await anext(requests, None)
    if first is None or first.WhichOneof("part") != header_field:
        raise InvalidInput(f"stream must start with a {header_field} message", reason="STREAM_ORDER")

    async def chunks() -> AsyncIterator[bytes]:
        async for message in requests:
            if message.WhichOneof("part") != "chunk":
                raise InvalidInput(f"only chunks may follow the {header_field}", reason="STREAM_ORDER")
            yield message.chunk

    return getattr(first, header_field), chunks()


def chunked(data: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterable[bytes]:
    """``data`` in slices of at most ``chunk_bytes`` (memoryview-free copies for protobuf)."""
    return (data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes))


class RequestPump:
    """Feeds a client stream from an async iterator, and fails the call cleanly if that
    iterator fails.

    grpc.aio does not surface an exception raised inside a request iterator: the call would
    wait for the rest of the stream forever. The pump catches it, cancels the call, and
    :meth:`result` re-raises the original error instead of the cancellation.
    """

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self._source = source
        self.error: BaseException | None = None
        self.call: Any = None

    async def requests(self) -> AsyncIterator[Any]:
        """The source's messages, for the call; stops (and cancels the call) if the source fails."""
        try:
            async for message in self._source:
                yield message
        except Exception as err:  # handed to result(), not swallowed
            self.error = err
            if self.call is not None:
                self.call.cancel()

    async def result(self, call: Any) -> Any:
        """Await a stream-unary ``call`` made with :meth:`requests`; re-raise the source's error."""
        self.call = call
        try:
            return await call
        except BaseException:
            if self.error is not None:
                raise self.error from None
            raise
