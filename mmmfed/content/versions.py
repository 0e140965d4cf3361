"""Content versions and their graph (ITU FGMV-43 9.3 steps 5-7, COIR-104; COSF).

Every content has a history of versions. A version is content-addressed: its record is

``{"ContentID", "Parents": [version ids, sorted], "Author": ProcessID, "TimeMs": int,
"ItemQualifier": {...}, "DescrMetadata": {...}, "Parts": [{"Path", "MediaType", "Size",
"Digest": {"Algorithm": "sha-256", "Value"}}]}``

and its version id is the sha-256 (64 hex digits) of the record's RFC 8785 (JCS) bytes: the digest
covers its parts' digests, its metadata, its parents, its author and its time, so two versions
with one id are the same version (applying one twice changes nothing) and a version cannot be
changed without changing its id. The first version has no parents; a merge version has two or
more.

The versions of a content form a graph (each points at its parents). Its heads are the versions
no other version names as parent; two heads (neither an ancestor of the other) are concurrent
versions: a conflict, never silently overwritten. Text (Markdown, plain) merges automatically
(:func:`merge_text`, a three-way line merge against the heads' nearest common ancestor, the same
bytes whichever side computes it); binary content keeps both heads until the owner resolves.
Why a three-way merge and not a CRDT (pycrdt): a version here is a whole snapshot (``content
update ID FILE`` hands over a file, not edit operations), and the graph already names the base
both heads share; a CRDT would have to diff the snapshots into operations first and keep its own
state beside every version, for the same line-level result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import merge3
import rfc8785

from mmmfed.content.item import PartRef
from mmmfed.content.package import ContentPackage
from mmmfed.errors import DataIntegrityError, InvalidInput

MAX_PARENTS = 16
MAX_RECORD_BYTES = 64 * 1024
VERSION_ID_HEX = 64


@dataclass(frozen=True)
class ContentVersion:
    """One version of a content (see the module docstring). Build with :meth:`make` or
    :meth:`from_record`, which compute and check the id."""

    version_id: str
    content_id: str
    parents: tuple[str, ...]
    author: str
    time_ms: int
    qualifier: Mapping[str, Any]
    metadata: Mapping[str, Any]
    parts: tuple[PartRef, ...]
    record_json: bytes

    @classmethod
    def make(
        cls,
        *,
        content_id: str,
        parents: Iterable[str],
        author: str,
        time_ms: int,
        qualifier: Mapping[str, Any],
        metadata: Mapping[str, Any],
        parts: Sequence[PartRef],
    ) -> ContentVersion:
        """A new version; its id is computed here (COIR-104)."""
        record: dict[str, Any] = {
            "ContentID": content_id,
            "Parents": sorted(set(parents)),
            "Author": author,
            "TimeMs": int(time_ms),
            "ItemQualifier": dict(qualifier),
            "DescrMetadata": dict(metadata),
            "Parts": [
                {
                    "Path": p.path,
                    "MediaType": p.media_type,
                    "Size": p.size,
                    "Digest": {"Algorithm": "sha-256", "Value": p.sha256},
                }
                for p in parts
            ],
        }
        return cls.from_record(rfc8785.dumps(record))

    @classmethod
    def from_record(cls, record_json: bytes, *, version_id: str | None = None) -> ContentVersion:
        """The version whose record is ``record_json`` (JCS bytes). ``version_id``, when given
        (what a peer says the id is), must be the record's digest.

        Raises InvalidInput ``VERSION_MALFORMED`` (not a record of the shape above, not in JCS
        form, over 64 KiB or 16 parents), DataIntegrityError ``VERSION_ID_MISMATCH``."""
        if len(record_json) > MAX_RECORD_BYTES:
            raise InvalidInput(f"a version record is at most {MAX_RECORD_BYTES} bytes", reason="VERSION_MALFORMED")
        try:
            doc = json.loads(record_json)
            if rfc8785.dumps(doc) != record_json:
                raise ValueError("the record is not in RFC 8785 (JCS) form")
            parents = tuple(str(p) for p in doc["Parents"])
            if list(parents) != sorted(set(parents)) or len(parents) > MAX_PARENTS:
                raise ValueError(f"Parents must be sorted, distinct and at most {MAX_PARENTS}")
            parts = tuple(
                PartRef(str(p["Path"]), str(p["MediaType"]), int(p["Size"]), str(p["Digest"]["Value"]))
                for p in doc["Parts"]
            )
            if not parts:
                raise ValueError("a version has at least one part")
            version = cls(
                version_id=hashlib.sha256(record_json).hexdigest(),
                content_id=str(doc["ContentID"]),
                parents=parents,
                author=str(doc["Author"]),
                time_ms=int(doc["TimeMs"]),
                qualifier=dict(doc["ItemQualifier"]),
                metadata=dict(doc["DescrMetadata"]),
                parts=parts,
                record_json=record_json,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InvalidInput(f"not a content version record: {err}"[:300], reason="VERSION_MALFORMED") from err
        if version_id is not None and version_id != version.version_id:
            raise DataIntegrityError(
                f"version {version_id[:80]} does not have the digest of its record ({version.version_id})",
                reason="VERSION_ID_MISMATCH",
                metadata={"version_id": version_id[:80]},
            )
        return version

    @property
    def kind(self) -> str:
        return str(self.qualifier.get("SubType", ""))

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def title(self) -> str:
        return str(self.metadata.get("Title", ""))

    def same_content(self, other: ContentVersion) -> bool:
        """Whether both have the same parts, Qualifier and metadata (what ``revert`` gives back)."""
        return (self.parts, dict(self.qualifier), dict(self.metadata)) == (
            other.parts,
            dict(other.qualifier),
            dict(other.metadata),
        )


def check_package(version: ContentVersion, package: ContentPackage) -> None:
    """``package`` is exactly the parts ``version`` lists (path, size and sha-256 of each, in order):
    DataIntegrityError ``DIGEST_MISMATCH`` / ``SIZE_MISMATCH``, InvalidInput ``CONTENT_PARTS_MISMATCH``."""
    listed = [p.path for p in version.parts]
    if listed != [p.path for p in package.parts]:
        raise InvalidInput(
            f"the parts sent are not those version {version.version_id[:12]} lists ({listed})",
            reason="CONTENT_PARTS_MISMATCH",
        )
    for ref, part in zip(version.parts, package.parts, strict=True):
        if ref.size != part.size:
            raise DataIntegrityError(f"part {ref.path} has {part.size} bytes, not {ref.size}", reason="SIZE_MISMATCH")
        if hashlib.sha256(part.data).hexdigest() != ref.sha256:
            raise DataIntegrityError(
                f"part {ref.path} of version {version.version_id[:12]} does not have its sha-256",
                reason="DIGEST_MISMATCH",
                metadata={"path": ref.path},
            )


class VersionGraph:
    """The versions of one content, by id (each version's parents are in the graph)."""

    def __init__(self, versions: Iterable[ContentVersion]) -> None:
        self.versions: dict[str, ContentVersion] = {}
        for v in versions:
            self.versions[v.version_id] = v

    def heads(self) -> list[ContentVersion]:
        """The versions no other names as parent, oldest first (then by id): one when in step,
        two or more in conflict."""
        named = {p for v in self.versions.values() for p in v.parents}
        heads = [v for vid, v in self.versions.items() if vid not in named]
        return sorted(heads, key=lambda v: (v.time_ms, v.version_id))

    def ancestors(self, version_id: str) -> set[str]:
        """``version_id`` and every version it descends from."""
        seen: set[str] = set()
        stack = [version_id]
        while stack:
            vid = stack.pop()
            if vid in seen or vid not in self.versions:
                continue
            seen.add(vid)
            stack.extend(self.versions[vid].parents)
        return seen

    def base_of(self, a: str, b: str) -> ContentVersion | None:
        """The nearest common ancestor of ``a`` and ``b`` (the latest by time, then id, of those
        that are not an ancestor of another common ancestor); None when they share none."""
        common = self.ancestors(a) & self.ancestors(b)
        nearest = [c for c in common if not any(c in self.ancestors(o) - {o} for o in common)]
        if not nearest:
            return None
        return max((self.versions[c] for c in nearest), key=lambda v: (v.time_ms, v.version_id))

    def find(self, prefix: str) -> ContentVersion:
        """The version whose id is ``prefix`` or starts with it (at least 8 hex digits).

        Raises NotFound ``VERSION_NOT_FOUND``, InvalidInput ``VERSION_AMBIGUOUS``."""
        from mmmfed.errors import NotFound

        wanted = prefix.strip().lower()
        found = [v for vid, v in self.versions.items() if len(wanted) >= 8 and vid.startswith(wanted)]
        if not found:
            raise NotFound(
                f"no version {prefix[:80]!r} of content {self._content_id()}; see `mmmfed content history`",
                reason="VERSION_NOT_FOUND",
                metadata={"version_id": prefix[:80]},
            )
        if len(found) > 1:
            raise InvalidInput(
                f"{prefix!r} names {len(found)} versions; give more of the id", reason="VERSION_AMBIGUOUS"
            )
        return found[0]

    def _content_id(self) -> str:
        return next(iter(self.versions.values())).content_id if self.versions else "?"


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def merge_text(base: bytes, ours: bytes, theirs: bytes) -> bytes:
    """Three-way line merge of UTF-8 texts (``merge3``, the merge of Bazaar/Breezy): a change on
    one side only is taken; where both sides changed the same lines differently, both sides'
    lines are kept, ``ours`` first (no conflict markers: the result is a valid text of its kind,
    and the caller orders the sides by version id so both M-Instances compute the same bytes)."""
    merger = merge3.Merge3(_lines(base), _lines(ours), _lines(theirs))
    out: list[bytes] = []
    for found in merger.merge_regions():
        region: tuple[Any, ...] = tuple(found)
        what = region[0]
        if what == "unchanged":
            out.extend(merger.base[region[1] : region[2]])
        elif what in ("a", "same"):
            out.extend(merger.a[region[1] : region[2]])
        elif what == "b":
            out.extend(merger.b[region[1] : region[2]])
        else:  # "conflict": (name, zstart, zend, astart, aend, bstart, bend)
            a_lines = merger.a[region[3] : region[4]]
            b_lines = merger.b[region[5] : region[6]]
            for chunk in (a_lines, b_lines):
                if chunk and out and not out[-1].endswith(b"\n"):
                    out[-1] += b"\n"
                out.extend(chunk)
    return b"".join(out)


def merge_metadata(base: Mapping[str, Any], ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> dict[str, Any]:
    """Per field: a field changed on one side only takes that side's value; changed on both, ours."""
    merged: dict[str, Any] = {}
    for key in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(key), ours.get(key), theirs.get(key)
        value = t if o == b else o
        if value is not None:
            merged[key] = value
    return merged
