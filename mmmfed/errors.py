"""Domain errors: one root, each subclass carrying its gRPC status code and a stable reason.

A reason is a machine-readable UPPER_SNAKE string sent to the peer in ``google.rpc.ErrorInfo``
(domain ``mmmfed.dev``); the message is for a person and says what to do. Mapping to gRPC happens
in exactly one place, :mod:`mmmfed.rpc`.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

ERROR_DOMAIN = "mmmfed.dev"


class MmmfedError(Exception):
    """Root of every error mmmfed raises on purpose.

    Args:
        message: what went wrong and what a person can do about it.
        reason: stable machine-readable reason (``google.rpc.ErrorInfo.reason``); defaults to the
            class's ``reason``.
        metadata: extra string facts for ``ErrorInfo.metadata`` (e.g. ``{"item_id": ...}``).
    """

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = {k: str(v) for k, v in (metadata or {}).items()}

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class InvalidInput(MmmfedError):
    """Malformed or inconsistent input (gRPC INVALID_ARGUMENT)."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"


class NotFound(MmmfedError):
    """A named Item, Process or peer does not exist (gRPC NOT_FOUND)."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(MmmfedError):
    """An identifier is already taken (gRPC ALREADY_EXISTS)."""

    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(MmmfedError):
    """The system is not in a state that allows the request, e.g. no manifesto negotiated yet
    (gRPC FAILED_PRECONDITION)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class DataIntegrityError(MmmfedError):
    """Bytes received do not match what the Item declares (digest, size) (gRPC DATA_LOSS)."""

    code = grpc.StatusCode.DATA_LOSS
    reason = "DIGEST_MISMATCH"


class TooLarge(MmmfedError):
    """A stream or document exceeds a configured limit (gRPC RESOURCE_EXHAUSTED)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "TOO_LARGE"


class PermissionDenied(MmmfedError):
    """The authenticated peer may not call this (gRPC PERMISSION_DENIED)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PEER_NOT_ALLOWED"


class Unavailable(MmmfedError):
    """A peer node could not be reached (gRPC UNAVAILABLE); clients may retry with backoff."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "PEER_UNAVAILABLE"


class RemoteError(MmmfedError):
    """An error a peer node returned, decoded from its status and ErrorInfo by
    :func:`mmmfed.rpc.decode_rpc_error`. Keeps the peer's code and reason."""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        reason: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.code = code
