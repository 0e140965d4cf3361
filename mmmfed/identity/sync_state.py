"""The home's synchronisation state of one user's identity (IDSF, ITU FGMV-43 9.4 steps 5-7;
issue 17 item 6): profile versions, the version each claim last changed at, and the changes the
user made at visited platforms, until the user settles them.

- **Versions.** :meth:`SyncState.observe` compares the claims of the user's current credential
  with the SHA-256 digests of the claims at the last version; any difference (a claim changed,
  added or gone: a new display name, a revoked avatar, a changed Right) makes a new version, and
  each claim that differed records it in ``field_versions``. Version 1 is the first observation.
- **Roaming changes.** A platform offers a change the user made there (:meth:`SyncState.offer`)
  with the version it held (``base_version``). It is ``PENDING`` until the user accepts or rejects
  it (:meth:`SyncState.settle`); it is a ``CONFLICT`` when the home changed the same claim after
  that version (``field_versions[field] > base_version``), detected when it is offered and again
  whenever the home's claim changes while it is pending. A conflict is settled the same way:
  accepting takes the platform's value, rejecting keeps the home's. Nothing is dropped unseen: a
  settled change stays (``ACCEPTED`` / ``REJECTED``) until the platform was told
  (:meth:`SyncState.forget_settled`).
- Only :data:`ROAMING_FIELDS` may change at a platform (preferences and the display name; not the
  birthdate, avatars or Rights, which are the home's). Values are checked as the credential
  would hold them (:func:`check_change`).

Stored as ``users/<id>/sync.json`` (0600) by :class:`mmmfed.identity.store.IdentityStore`. Bounds:
at most :data:`MAX_CHANGES` changes per user (TooLarge ``CHANGES_FULL``), values at most
:data:`MAX_VALUE_CHARS` characters of JSON. Errors: InvalidInput ``FIELD_NOT_ROAMABLE``,
``VALUE_INVALID``, ``CHANGE_ID_INVALID``, ``VERSION_INVALID``; NotFound ``CHANGE_UNKNOWN``;
FailedPrecondition ``CHANGE_SETTLED``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmmfed.errors import FailedPrecondition, InvalidInput, NotFound, TooLarge
from mmmfed.identity.claims import MAX_NAME_CHARS, MAX_REFERENCES

ROAMING_FIELDS = ("name", "languages", "comfort")
MAX_CHANGES = 64
MAX_VALUE_CHARS = 4096
MAX_LANGUAGE_CHARS = 35  # a BCP 47 tag (RFC 5646 section 4.4.1 advises 35)
OFFERED, PENDING, CONFLICT, ACCEPTED, REJECTED = "OFFERED", "PENDING", "CONFLICT", "ACCEPTED", "REJECTED"
OPEN = (OFFERED, PENDING, CONFLICT)
SETTLED = (ACCEPTED, REJECTED)
_CHANGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def claim_digest(value: Any) -> str:
    """SHA-256 hex of the claim value's canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_change_id(change_id: str) -> str:
    """``change_id`` if it is 8..64 of ``A-Z a-z 0-9 _ -``; InvalidInput ``CHANGE_ID_INVALID`` else."""
    if not isinstance(change_id, str) or not _CHANGE_ID.fullmatch(change_id):
        raise InvalidInput(
            f"change id {str(change_id)[:80]!r} is not 8..64 of A-Z a-z 0-9 _ -", reason="CHANGE_ID_INVALID"
        )
    return change_id


def check_change(field_name: str, value_json: str) -> Any:
    """The value of a roaming change of ``field_name`` given as JSON text: ``name`` a string of
    1..200 characters, ``languages`` a list of 1..256 BCP 47 tags (1..35 characters each),
    ``comfort`` a JSON object. InvalidInput ``FIELD_NOT_ROAMABLE`` for another field,
    ``VALUE_INVALID`` for a value that is not one of these (or over :data:`MAX_VALUE_CHARS`)."""
    if field_name not in ROAMING_FIELDS:
        raise InvalidInput(
            f"{str(field_name)[:80]!r} cannot change at a platform; only {', '.join(ROAMING_FIELDS)} can",
            reason="FIELD_NOT_ROAMABLE",
        )
    if not isinstance(value_json, str) or len(value_json) > MAX_VALUE_CHARS:
        raise InvalidInput(
            f"a {field_name} value is at most {MAX_VALUE_CHARS} characters of JSON", reason="VALUE_INVALID"
        )
    try:
        value = json.loads(value_json)
    except ValueError as err:
        raise InvalidInput(f"the {field_name} value is not JSON: {value_json[:80]!r}", reason="VALUE_INVALID") from err
    ok = {
        "name": isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS,
        "languages": isinstance(value, list)
        and 0 < len(value) <= MAX_REFERENCES
        and all(isinstance(t, str) and 0 < len(t) <= MAX_LANGUAGE_CHARS for t in value),
        "comfort": isinstance(value, dict) and bool(value),
    }[field_name]
    if not ok:
        shapes = {
            "name": f"a string of 1..{MAX_NAME_CHARS} characters",
            "languages": f"a list of 1..{MAX_REFERENCES} BCP 47 tags",
            "comfort": 'a non-empty JSON object, e.g. {"motion": "reduced"}',
        }
        raise InvalidInput(f"the {field_name} value must be {shapes[field_name]}", reason="VALUE_INVALID")
    return value


@dataclass
class Change:
    """One change the user made at platform ``peer`` (module docstring for ``status``)."""

    change_id: str
    peer: str
    field: str
    value: Any
    base_version: int
    status: str
    offered_at_s: int


@dataclass
class SyncState:
    """One user's synchronisation state at home (module docstring)."""

    version: int = 0
    digests: dict[str, str] = field(default_factory=dict)
    field_versions: dict[str, int] = field(default_factory=dict)
    changes: dict[str, Change] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SyncState:
        """The state in ``path``, or a new one (version 0) if there is none."""
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        changes = {k: Change(**v) for k, v in raw.get("changes", {}).items()}
        return cls(int(raw["version"]), dict(raw["digests"]), dict(raw["field_versions"]), changes)

    def to_text(self) -> str:
        """The state as the JSON text ``sync.json`` holds."""
        doc = {
            "version": self.version,
            "digests": self.digests,
            "field_versions": self.field_versions,
            "changes": {k: asdict(c) for k, c in self.changes.items()},
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    def observe(self, claims: Mapping[str, Any]) -> bool:
        """Take the claims of the current credential: True (and a new version) if any differ
        from the last version's; open changes of a claim that changed become ``CONFLICT``."""
        digests = {name: claim_digest(value) for name, value in claims.items()}
        changed = {n for n in digests.keys() | self.digests.keys() if digests.get(n) != self.digests.get(n)}
        if self.version and not changed:
            return False
        self.version += 1
        for name in changed:
            self.field_versions[name] = self.version
        self.digests = digests
        for change in self.changes.values():
            if change.status == PENDING and self.field_versions.get(change.field, 0) > change.base_version:
                change.status = CONFLICT
        return True

    def offer(
        self, peer: str, change_id: str, field_name: str, value_json: str, base_version: int, *, now_s: int
    ) -> Change:
        """Keep a change offered by ``peer`` (``PENDING`` or ``CONFLICT``); the same id again
        from the same peer is the change kept. Raises the errors of :func:`check_change` and
        :func:`check_change_id`, InvalidInput ``VERSION_INVALID`` (a version the home never
        had) / ``CHANGE_ID_INVALID`` (an id another platform used), TooLarge ``CHANGES_FULL``."""
        check_change_id(change_id)
        known = self.changes.get(change_id)
        if known is not None:
            if known.peer != peer:
                raise InvalidInput(f"change id {change_id} is another platform's", reason="CHANGE_ID_INVALID")
            return known
        value = check_change(field_name, value_json)
        if not 0 <= base_version <= self.version:
            raise InvalidInput(
                f"version {base_version} was never this identity's (the home is at {self.version})",
                reason="VERSION_INVALID",
            )
        if len(self.changes) >= MAX_CHANGES:
            raise TooLarge(
                f"{MAX_CHANGES} changes of this identity await the user; settle some first", reason="CHANGES_FULL"
            )
        status = CONFLICT if self.field_versions.get(field_name, 0) > base_version else PENDING
        change = Change(change_id, peer, field_name, value, base_version, status, now_s)
        self.changes[change_id] = change
        return change

    def settle(self, change_id: str, *, accept: bool) -> Change:
        """The user's choice on an open change: ``ACCEPTED`` (the caller applies its value) or
        ``REJECTED`` (the home's value stays). NotFound ``CHANGE_UNKNOWN``, FailedPrecondition
        ``CHANGE_SETTLED``."""
        change = self.changes.get(change_id)
        if change is None:
            raise NotFound(f"no change {change_id[:80]!r} awaits this user", reason="CHANGE_UNKNOWN")
        if change.status not in OPEN:
            raise FailedPrecondition(f"change {change_id} was {change.status} already", reason="CHANGE_SETTLED")
        change.status = ACCEPTED if accept else REJECTED
        return change

    def of_peer(self, peer: str) -> list[Change]:
        """The changes ``peer`` offered, oldest first."""
        return sorted((c for c in self.changes.values() if c.peer == peer), key=lambda c: (c.offered_at_s, c.change_id))

    def forget_settled(self, peer: str) -> None:
        """Drop the settled changes of ``peer`` (once it was told of them)."""
        for change in self.of_peer(peer):
            if change.status in SETTLED:
                del self.changes[change.change_id]
