"""Assertions on failed gRPC calls shared by the integration tests."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc
import pytest

from mmmfed.rpc import error_info


async def refused(
    call: Awaitable[Any], code: grpc.StatusCode, reason: str | None, *mentions: str
) -> grpc.aio.AioRpcError:
    """Await ``call``; assert it fails with ``code`` and ErrorInfo ``reason`` (None: no ErrorInfo,
    as for a failed handshake), and that its message mentions each of ``mentions``."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    err = caught.value
    info = error_info(err)
    assert (err.code(), info.reason if info else None) == (code, reason), err.details()
    for fact in mentions:
        assert fact in (err.details() or ""), f"{fact!r} not in {err.details()!r}"
    return err
