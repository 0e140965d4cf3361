"""The store protocol and the streaming blob writer every backend shares."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mmmfed.errors import DataIntegrityError, TooLarge
from mmmfed.items import Item


@dataclass(frozen=True)
class StagedBlob:
    """Bytes received in full and checked, waiting in a temporary file to be committed."""

    path: Path
    size: int
    sha256: str


class BlobWriter:
    """Receives Item data chunk by chunk into a temporary file, hashing as it goes.

    Args:
        tmp_dir: where the temporary file lives (same filesystem as the blob store).
        expected_size: ``ItemData.Size`` (bytes); more is refused at once. None: not declared.
        expected_sha256: ``ItemData.Digest`` hex; None: not declared (registration).
        max_bytes: the node's limit on one Item's data.
    Raises (from write/finish):
        TooLarge (``STREAM_TOO_LARGE``): more bytes than declared or than ``max_bytes``.
        DataIntegrityError (``DIGEST_MISMATCH`` / ``SIZE_MISMATCH``): at ``finish``.
    On any error the temporary file is removed: nothing is left behind.
    """

    def __init__(
        self, tmp_dir: Path, *, expected_size: int | None, expected_sha256: str | None, max_bytes: int
    ) -> None:
        if expected_size is not None and expected_size > max_bytes:
            raise TooLarge(
                f"Item data of {expected_size} bytes exceeds this node's limit of {max_bytes}",
                reason="STREAM_TOO_LARGE",
                metadata={"limit_bytes": str(max_bytes)},
            )
        tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = tmp_dir / f"{uuid.uuid4().hex}.part"
        # Private (0600), and never through a file or link someone placed there (O_EXCL).
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._expected_size = expected_size
        self._expected_sha256 = expected_sha256
        self._max_bytes = max_bytes
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Admit, hash and write ``chunk`` (see :meth:`admit` and :meth:`write_admitted`)."""
        self.admit(len(chunk))
        self.write_admitted(chunk)

    def admit(self, n: int) -> None:
        """Count ``n`` more bytes; TooLarge (``STREAM_TOO_LARGE``) at once, file removed, if
        that passes the declared size or the node's limit. Cheap: call it as bytes arrive."""
        self.size += n
        limit = min(self._max_bytes, self._expected_size if self._expected_size is not None else self._max_bytes)
        if self.size > limit:
            self.abort()
            raise TooLarge(
                f"stream sent more than {limit} bytes (declared {self._expected_size}, node limit {self._max_bytes})",
                reason="STREAM_TOO_LARGE",
                metadata={"limit_bytes": str(limit)},
            )

    def write_admitted(self, chunk: bytes) -> None:
        """Hash and write a chunk already counted by :meth:`admit` (safe in a worker thread:
        one call at a time, in order)."""
        self._hash.update(chunk)
        self._fh.write(chunk)

    def finish(self) -> StagedBlob:
        self._fh.close()
        if self._expected_size is not None and self.size != self._expected_size:
            self.abort()
            raise DataIntegrityError(
                f"stream ended after {self.size} of the {self._expected_size} bytes the Item declares",
                reason="SIZE_MISMATCH",
            )
        digest = self._hash.hexdigest()
        if self._expected_sha256 is not None and digest != self._expected_sha256:
            self.abort()
            raise DataIntegrityError(
                f"sha-256 of the data is {digest}, the Item declares {self._expected_sha256}",
                reason="DIGEST_MISMATCH",
            )
        return StagedBlob(self.path, self.size, digest)

    def abort(self) -> None:
        """Drop what was received (idempotent)."""
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()


class Store(Protocol):
    """What nodes need of durable state. Items are stored with their exact bytes."""

    def stage_blob(self, *, expected_size: int | None, expected_sha256: str | None, max_bytes: int) -> BlobWriter:
        """A writer for incoming Item data (see :class:`BlobWriter`)."""
        ...

    def put_item(self, item: Item, *, item_type: str, owner_id: str | None, blob: StagedBlob | None = None) -> None:
        """Store ``item`` (and commit ``blob`` as its data) atomically; AlreadyExists if the
        ItemID is taken, in which case nothing changes."""
        ...

    def get_item(self, item_id: str) -> Item:
        """The Item with ``item_id``; NotFound if absent."""
        ...

    def find_items(self, *, item_type: str | None = None, owner_id: str | None = None) -> list[Item]:
        """Items matching every given filter, oldest first."""
        ...

    def read_blob(self, sha256: str, *, chunk_bytes: int) -> Iterator[bytes]:
        """The data with this digest, in chunks of at most ``chunk_bytes``; NotFound if absent."""
        ...

    def blob_path(self, sha256: str) -> Path:
        """Where the data with this digest lives (NotFound if absent)."""
        ...

    def put_document(self, namespace: str, key: str, value: bytes) -> None:
        """Insert or replace a small document (manifestos, agreements)."""
        ...

    def get_document(self, namespace: str, key: str) -> bytes | None: ...

    def list_documents(self, namespace: str) -> dict[str, bytes]:
        """Every document in ``namespace``, by key."""
        ...

    def claim_nonce(self, namespace: str, nonce: str, *, keep_until_ms: int, now_ms: int) -> bool:
        """Record ``nonce`` until ``keep_until_ms``; False if it is already recorded (a replay).
        Atomic: of two concurrent claims exactly one wins. Drops nonces kept past ``now_ms``."""
        ...

    def put_record(self, namespace: str, key: str, value: bytes, *, keep_until_ms: int, now_ms: int) -> None:
        """Insert or replace a record kept until ``keep_until_ms`` (Unix ms), durably; drops the
        records kept past ``now_ms`` in the same transaction."""
        ...

    def get_record(self, namespace: str, key: str, *, now_ms: int) -> bytes | None:
        """The record, or None if there is none kept at ``now_ms``."""
        ...

    def close(self) -> None: ...


def fsync_rename(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` durably (fsync the file, rename, fsync the directory)."""
    with open(src, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(src, dst)
    dir_fd = os.open(dst.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
