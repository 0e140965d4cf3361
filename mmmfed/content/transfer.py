"""A content's bytes on the wire (ITU FGMV-43 9.3 steps 2-4; RI-3, RE-3): after the header that
carries its Item, the parts' bytes follow in the order the Item lists them (``ItemParts``), each
exactly its listed ``Size``, cut into chunks anywhere (:func:`mmmfed.streams.chunked`).

:func:`check_limits` bounds what a receiver accepts before any byte is read;
:class:`PartsChecker` follows the stream and checks each part's size and sha-256 as soon as its
last byte arrives, so a forwarding node can stop before it passes on the bytes of a part that
does not match. Errors: TooLarge ``CONTENT_TOO_LARGE`` (metadata ``limit``), DataIntegrityError
``SIZE_MISMATCH`` / ``DIGEST_MISMATCH`` (metadata ``path``).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator, Sequence

from mmmfed.content.item import PartRef
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import DataIntegrityError, TooLarge
from mmmfed.streams import chunked
from mmmfed.tls import MAX_MESSAGE_BYTES

MAX_CONTENT_PARTS = 256
MAX_CONTENT_BYTES = MAX_MESSAGE_BYTES - 1024 * 1024
"""The largest content a node accepts from a peer by default: what it can serve again in one
GetContent answer (the node's gRPC message limit, less 1 MiB for the Item and framing), as a
content published here is at most one PublishContent message."""


def check_limits(
    refs: Sequence[PartRef], *, max_bytes: int = MAX_CONTENT_BYTES, max_parts: int = MAX_CONTENT_PARTS
) -> int:
    """The total size (bytes) the Item lists; TooLarge ``CONTENT_TOO_LARGE`` past ``max_parts``
    parts or ``max_bytes`` bytes, DataIntegrityError ``SIZE_MISMATCH`` for a negative size."""
    if len(refs) > max_parts:
        raise TooLarge(
            f"the content has {len(refs)} parts; at most {max_parts} are accepted here",
            reason="CONTENT_TOO_LARGE",
            metadata={"limit": f"{max_parts} parts"},
        )
    for ref in refs:
        if ref.size < 0:
            raise DataIntegrityError(
                f"part {ref.path} lists a negative size", reason="SIZE_MISMATCH", metadata={"path": ref.path}
            )
    total = sum(r.size for r in refs)
    if total > max_bytes:
        raise TooLarge(
            f"the content is {total:,} bytes; at most {max_bytes:,} are accepted here",
            reason="CONTENT_TOO_LARGE",
            metadata={"limit": f"{max_bytes} bytes"},
        )
    return total


def part_bytes(package: ContentPackage) -> Iterator[bytes]:
    """The chunks that send ``package``: every part's bytes in order, in chunks of at most 1 MiB."""
    for part in package.parts:
        yield from chunked(part.data)


class PartsChecker:
    """Follows the bytes of the parts ``refs`` lists (see the module docstring); ``keep``: keep
    them too, for :meth:`package`."""

    def __init__(self, refs: Sequence[PartRef], *, keep: bool = False) -> None:
        self._refs = list(refs)
        self._keep = keep
        self._at = 0  # index of the part being read
        self._left = self._refs[0].size if self._refs else 0
        self._hash = hashlib.sha256()
        self._data: list[bytes] = []
        self._parts: list[bytes] = []
        self.received = 0
        self._skip_empty()

    def _skip_empty(self) -> None:
        while self._at < len(self._refs) and self._left == 0:
            self._close_part()

    def _close_part(self) -> None:
        ref = self._refs[self._at]
        if self._hash.hexdigest() != ref.sha256:
            raise DataIntegrityError(
                f"part {ref.path} does not have the sha-256 the Item lists",
                reason="DIGEST_MISMATCH",
                metadata={"path": ref.path},
            )
        self._parts.append(b"".join(self._data))
        self._data, self._hash = [], hashlib.sha256()
        self._at += 1
        self._left = self._refs[self._at].size if self._at < len(self._refs) else 0

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk; raises as soon as a part it completes does not match, or past the
        last part's listed end (``SIZE_MISMATCH``)."""
        self.received += len(chunk)
        view = memoryview(chunk)
        while view:
            if self._at >= len(self._refs):
                raise DataIntegrityError(
                    f"{self.received:,} bytes arrived; the Item lists {sum(r.size for r in self._refs):,}",
                    reason="SIZE_MISMATCH",
                    metadata={"path": self._refs[-1].path if self._refs else ""},
                )
            take = view[: self._left]
            self._hash.update(take)
            if self._keep:
                self._data.append(bytes(take))
            self._left -= len(take)
            view = view[len(take) :]
            if self._left == 0:
                self._close_part()
                self._skip_empty()

    def finish(self) -> None:
        """The stream ended: every listed part must be complete (``SIZE_MISMATCH`` naming the first that is not)."""
        if self._at < len(self._refs):
            ref = self._refs[self._at]
            raise DataIntegrityError(
                f"the stream ended inside part {ref.path} ({self._left:,} of its {ref.size:,} bytes missing)",
                reason="SIZE_MISMATCH",
                metadata={"path": ref.path},
            )

    def package(self) -> ContentPackage:
        """The parts received (``keep`` only), after :meth:`finish`."""
        return ContentPackage(
            tuple(
                ContentPart(r.path, data, r.media_type, r.sha256)
                for r, data in zip(self._refs, self._parts, strict=True)
            )
        )

    async def follow(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks`` passed through, each fed first (so a bad part stops the stream before its
        last bytes go on); ends with :meth:`finish`."""
        async for chunk in chunks:
            self.feed(chunk)
            yield chunk
        self.finish()
