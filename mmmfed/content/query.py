"""A content search query (ITU FGMV-43 9.3, COIR-101/105), checked the same way where it is
asked (the M-Instance) and where a peer's gateway answers it.

A :class:`ContentQuery` is words plus exact filters: every word (case-folded) must appear in the
content's title, description, tags or creator; ``kind`` (a Qualifier SubType), ``tag``,
``creator`` and ``licence`` (the SPDX expression as the Item spells it) must equal the content's.
Bounds: at most :data:`MAX_WORDS` words, :data:`MAX_QUERY_CHARS` characters, and
:data:`MAX_LIMIT` hits per M-Instance; beyond them, InvalidInput ``CONTENT_QUERY_INVALID`` with
metadata ``field``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.errors import InvalidInput

MAX_WORDS = 8
MAX_QUERY_CHARS = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
QUERY_INVALID = "CONTENT_QUERY_INVALID"
KINDS = ("Model3D", "Image", "Sound", "Text")


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, reason=QUERY_INVALID, metadata={"field": field})


@dataclass(frozen=True)
class ContentQuery:
    """A checked query: build with :meth:`of` or :meth:`of_message` (module docstring); None
    filters match anything."""

    words: tuple[str, ...]
    kind: str | None
    tag: str | None
    creator: str | None
    licence: str | None
    limit: int

    @classmethod
    def of(
        cls,
        text: str = "",
        *,
        kind: str = "",
        tag: str = "",
        creator: str = "",
        licence: str = "",
        limit: int = 0,
    ) -> ContentQuery:
        """The query of these fields (empty: any; ``limit`` 0: :data:`DEFAULT_LIMIT`)."""
        if len(text) > MAX_QUERY_CHARS:
            raise _invalid(f"a query is at most {MAX_QUERY_CHARS} characters, not {len(text)}", "text")
        words = tuple(dict.fromkeys(w.casefold() for w in re.split(r"\s+", text.strip()) if w))
        if len(words) > MAX_WORDS:
            raise _invalid(f"a query has at most {MAX_WORDS} words, not {len(words)}", "text")
        if kind and kind not in KINDS:
            raise _invalid(f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}", "kind")
        if not 0 <= limit <= MAX_LIMIT:
            raise _invalid(f"limit is 1..{MAX_LIMIT} (0: {DEFAULT_LIMIT}), not {limit}", "limit")
        for name, value in (("tag", tag), ("creator", creator), ("licence", licence)):
            if len(value) > MAX_QUERY_CHARS:
                raise _invalid(f"{name} is at most {MAX_QUERY_CHARS} characters", name)
        return cls(
            words=words,
            kind=kind or None,
            tag=tag.strip().lower() or None,
            creator=creator or None,
            licence=licence or None,
            limit=limit or DEFAULT_LIMIT,
        )

    @classmethod
    def of_message(cls, message: cpb.ContentQuery) -> ContentQuery:
        """The checked query of a ``ContentQuery`` message."""
        return cls.of(
            message.text,
            kind=message.kind,
            tag=message.tag,
            creator=message.creator,
            licence=message.licence,
            limit=message.limit,
        )
