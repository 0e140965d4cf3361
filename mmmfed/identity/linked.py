"""The destination's linked identities (FGMV-43 9.4 step 4, issue 17 items 4-5; IDIR-204): an
admitted identity becomes a Process here, linked to its home DID, holding only the claims
disclosed; unlinking deletes them and the link.

Where: the destination gateway's data dir, ``<data_dir>/identity/linked/<home>/<sha>.json``
(0600), ``<sha>`` the first 32 hex digits of SHA-256 of the DID. The gateway keeps them (not the
M-Instance's store): it is the gateway that verified the presentation, and the instance has no
path yet to delete a registered Process's data, which IDIR-204 requires. Each file::

    {"did": "did:web:a.example:users:alice", "home": "a.example",
     "process_id": "mmm://b.example/processes/user/linked-<sha 20 hex>",
     "claims": {<the disclosed claims, nothing else>}, "holder_jwk": {...},
     "linked_at_s": s, "credential_expires_s": s, "admission": "admit" | "restricted",
     "scope": [<the claim names the user consented to here>], "version": <home profile version>,
     "roaming": {<change id>: {"field", "value", "base_version", "status", "home_value",
                               "made_at_s"}}}

``scope`` is what the user disclosed at the last link (PresentIdentity): a synchronisation
(IDSF, PushIdentityUpdate) may change the values within it and drop a claim the home no longer
has, never add one outside it. ``roaming`` holds the changes the user made here while visiting
(IDSF step 7), at most :data:`MAX_ROAMING_CHANGES`, until the home settles them.

The Process id is derived from the DID alone, so the same person arriving again (or after an
unlink) is the same Process. Bounds: at most :data:`MAX_LINKED_PER_HOME` identities per home
M-Instance (TooLarge ``LINKED_IDENTITIES_FULL``). One gateway process writes these files.
Errors: NotFound ``NOT_LINKED``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmmfed.errors import NotFound, TooLarge
from mmmfed.items import check_instance_id

MAX_LINKED_PER_HOME = 100_000
MAX_ROAMING_CHANGES = 16


def _digest(did: str) -> str:
    return hashlib.sha256(did.encode()).hexdigest()


def linked_process_id(m_instance_id: str, did: str) -> str:
    """The Process id here of the identity ``did``: ``mmm://<here>/processes/user/linked-<20 hex>``."""
    return f"mmm://{m_instance_id}/processes/user/linked-{_digest(did)[:20]}"


@dataclass(frozen=True)
class LinkedIdentity:
    """One link (module docstring for the fields)."""

    did: str
    home: str
    process_id: str
    claims: dict[str, Any]
    holder_jwk: dict[str, Any]
    linked_at_s: int
    credential_expires_s: int
    admission: str = "admit"
    scope: list[str] = field(default_factory=list)
    version: int = 0
    roaming: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "home": self.home,
            "process_id": self.process_id,
            "claims": self.claims,
            "holder_jwk": self.holder_jwk,
            "linked_at_s": self.linked_at_s,
            "credential_expires_s": self.credential_expires_s,
            "admission": self.admission,
            "scope": self.scope,
            "version": self.version,
            "roaming": self.roaming,
        }


def _record(raw: dict[str, Any]) -> LinkedIdentity:
    """A link as read from its file; one written before synchronisation has the scope of its claims."""
    raw.setdefault("scope", sorted(raw.get("claims", {})))
    return LinkedIdentity(**raw)


class LinkedIdentities:
    """The links of ``m_instance_id`` (the destination) in ``directory`` (module docstring)."""

    def __init__(self, directory: Path, m_instance_id: str, *, max_per_home: int = MAX_LINKED_PER_HOME) -> None:
        self.directory = directory
        self.m_instance_id = check_instance_id(m_instance_id)
        self.max_per_home = max_per_home

    def _path(self, home: str, did: str) -> Path:
        return self.directory / check_instance_id(home) / f"{_digest(did)[:32]}.json"

    def get(self, home: str, did: str) -> LinkedIdentity | None:
        """The link of ``did`` from ``home``, or None."""
        try:
            raw = json.loads(self._path(home, did).read_text())
        except FileNotFoundError:
            return None
        return _record(raw)

    def all(self, home: str | None = None) -> list[LinkedIdentity]:
        """Every link (of ``home`` only, if given), by file name."""
        homes = [home] if home is not None else sorted(p.name for p in self.directory.glob("*") if p.is_dir())
        out = []
        for h in homes:
            folder = self.directory / check_instance_id(h)
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                out.append(_record(json.loads(path.read_text())))
        return out

    def link(
        self,
        home: str,
        did: str,
        *,
        claims: dict[str, Any],
        holder_jwk: dict[str, Any],
        now_s: int,
        expires_s: int,
        admission: str = "admit",
        version: int = 0,
    ) -> tuple[LinkedIdentity, bool]:
        """Store (or replace) the link of ``did``: ``(link, already_linked)``. Replacing keeps
        the Process, its first ``linked_at_s`` and its roaming changes; the claims and the scope
        become exactly ``claims`` (the user's latest disclosure), at the home's profile
        ``version``. TooLarge ``LINKED_IDENTITIES_FULL`` for a new link past the bound."""
        before = self.get(home, did)
        if before is None:
            self.check_room(home)
        record = LinkedIdentity(
            did=did,
            home=home,
            process_id=linked_process_id(self.m_instance_id, did),
            claims=dict(claims),
            holder_jwk=dict(holder_jwk),
            linked_at_s=before.linked_at_s if before is not None else now_s,
            credential_expires_s=expires_s,
            admission=admission,
            scope=sorted(claims),
            version=version,
            roaming=dict(before.roaming) if before is not None else {},
        )
        self.save(record)
        return record, before is not None

    def check_room(self, home: str) -> None:
        """TooLarge ``LINKED_IDENTITIES_FULL`` when ``home`` has :attr:`max_per_home` links here
        already (a new one would pass the bound)."""
        folder = self.directory / check_instance_id(home)
        if folder.is_dir() and sum(1 for _ in folder.glob("*.json")) >= self.max_per_home:
            raise TooLarge(
                f"{self.m_instance_id} holds {self.max_per_home} identities from {home}; none more is linked",
                reason="LINKED_IDENTITIES_FULL",
            )

    def save(self, record: LinkedIdentity) -> None:
        """Write ``record`` over the link of its DID (0600, atomically)."""
        path = self._path(record.home, record.did)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    def by_process(self, process_id: str) -> LinkedIdentity | None:
        """The link whose Process here is ``process_id``, or None (a scan of the links)."""
        if not process_id.startswith(f"mmm://{self.m_instance_id}/processes/user/linked-"):
            return None
        return next((r for r in self.all() if r.process_id == process_id), None)

    def unlink(self, home: str, did: str) -> LinkedIdentity:
        """Delete the link of ``did`` and every claim it held; returns what was deleted.
        NotFound ``NOT_LINKED`` if there is none."""
        record = self.get(home, did)
        if record is None:
            raise NotFound(f"{self.m_instance_id} holds no identity linked to {did}", reason="NOT_LINKED")
        self._path(home, did).unlink()
        return record
