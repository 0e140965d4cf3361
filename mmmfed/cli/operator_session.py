"""An operator's session with one running M-Instance: its configuration (``--config``, the
instance's), the operator's certificate and key, and stubs on the instance and its own gateway.

Shared by the commands that talk to a running M-Instance (``asset``, ``avatar``, ``content``). Errors end the
command with exit 2 and one message (:func:`run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class OperatorSession:
    """Where the M-Instance (and its gateway) listen, and the operator's TLS material."""

    config: Any  # InstanceConfig
    config_path: Path
    cert: Path
    key: Path

    def flags(self) -> str:
        """``--config --cert --key`` as given, for the commands we suggest."""
        config, cert, key = (shlex.quote(str(p)) for p in (self.config_path, self.cert, self.key))
        return f"--config {config} --cert {cert} --key {key}"


def open_session(config: Path, cert: Path, key: Path) -> OperatorSession:
    """The session of ``config`` (an instance configuration; exit 2 CONFIG_INVALID otherwise)."""
    from mmmfed.cli.pa_cmd import _config

    return OperatorSession(_config(config), config, cert, key)


@contextlib.asynccontextmanager
async def stub(op: OperatorSession, *, gateway: bool = False) -> AsyncIterator[Any]:
    """An Instance stub (or, ``gateway=True``, a PlatformGateway stub for the M-Instance's own gateway)."""
    from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
    from mmmfed.config import PeerAddress, TlsConfig
    from mmmfed.errors import InvalidInput
    from mmmfed.tls import secure_channel

    cfg = op.config
    tls = TlsConfig(ca_cert=cfg.tls.ca_cert, cert=op.cert, key=op.key)
    if gateway:
        if cfg.gateway is None:
            raise InvalidInput(f"{cfg.m_instance_id}'s configuration names no gateway", reason="NO_GATEWAY")
        async with secure_channel(tls, cfg.gateway) as channel:
            yield gateway_pb2_grpc.PlatformGatewayStub(channel)
        return
    async with secure_channel(tls, PeerAddress(tls_name=cfg.tls_name, address=cfg.listen)) as channel:
        yield instance_pb2_grpc.InstanceStub(channel)


@contextlib.asynccontextmanager
async def content_stub(op: OperatorSession) -> AsyncIterator[Any]:
    """A Content stub on the M-Instance (``mmmfed.api.v1.Content``, FGMV-43 9.3)."""
    from mmmfed.api.v1 import content_pb2_grpc
    from mmmfed.config import PeerAddress, TlsConfig
    from mmmfed.tls import secure_channel

    cfg = op.config
    tls = TlsConfig(ca_cert=cfg.tls.ca_cert, cert=op.cert, key=op.key)
    async with secure_channel(tls, PeerAddress(tls_name=cfg.tls_name, address=cfg.listen)) as channel:
        yield content_pb2_grpc.ContentStub(channel)


async def once(op: OperatorSession, method: str, request: Any, *, attempts: int, gateway: bool = False) -> Any:
    """One RPC; ``attempts`` > 1 only for calls that are safe to repeat (reads, idempotent ids)."""
    from mmmfed.rpc import call

    async with stub(op, gateway=gateway) as service:
        return await call(lambda: getattr(service, method)(request), attempts=attempts)


async def content_once(op: OperatorSession, method: str, request: Any, *, attempts: int) -> Any:
    """One RPC of the Content service (see :func:`once`)."""
    from mmmfed.rpc import call

    async with content_stub(op) as service:
        return await call(lambda: getattr(service, method)(request), attempts=attempts)


def run(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``; a domain error (refusal, no connection) or an unreadable certificate
    or key is exit 2 with its reason."""
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput, MmmfedError

    try:
        return asyncio.run(work)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:  # reading --cert, --key or the CA named in the configuration
        raise fail(InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")) from err
