"""An M-Instance's signing keys, held by its gateway (issue "Federated trust", item 4).

Layout under ``<data_dir>/keys/``: ``keys.json`` (the public record of every key: id, public key,
valid from/until, revoked at; Unix milliseconds, 0 = open; revocation reason) and ``<key id>.pem``
(PKCS#8, 0600).
The gateway re-reads ``keys.json`` when it changes, so ``mmmfed keys rotate|revoke`` take effect
without a restart. Verification methods are ``did:web:<m_instance_id>#<key id>``.

Rotation ends the current key's validity now and makes a new one current: Items signed while the
old key was valid keep verifying (a verifier checks the key at the Item's Trace time). That is a
``superseded`` retirement by construction: it sets ``valid_until_ms``, never ``revoked_at_ms``.

Revocation (issue 12 item 4, the reasons of RFC 5280 5.3.1 / W3C status lists) sets
``revoked_at_ms`` and a reason:

- ``compromised`` (the default of ``mmmfed keys revoke``): the key may be in other hands, so its
  proofs' ``created`` proves nothing. From ``revoked_at_ms`` on, nothing signed with it verifies,
  whatever its ``created`` (a backdated proof included).
- ``superseded``: retired in favour of another key; proofs created before ``revoked_at_ms`` still
  verify, later ones fail (what rotation does through ``valid_until_ms``).

A revoked record without a reason (``keys.json`` or a peer's key set written before reasons
existed) reads as ``compromised``: such a revocation was an operator's explicit ``keys revoke``
(rotation never set ``revoked_at_ms``), and of the two readings it is the one that fails closed.
An unknown reason reads as ``compromised`` too. A revocation is never weakened: ``compromised``
stays ``compromised``, and a revocation time only ever moves earlier.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from mmmfed.did import multibase_decode, multibase_encode
from mmmfed.errors import FailedPrecondition, InvalidInput, NotFound
from mmmfed.items import check_instance_id
from mmmfed.keyfile import load_signing_key
from mmmfed.proofs import SigningKey

COMPROMISED = "compromised"
SUPERSEDED = "superseded"
REVOCATION_REASONS = (COMPROMISED, SUPERSEDED)


def now_ms() -> int:
    """Now, Unix ms, rounded down to the second: proofs say when they were created to the second,
    so key validity changes on whole seconds too."""
    return int(time.time()) * 1000


def did_web_method(m_instance_id: str, key_id: str) -> str:
    """``did:web:<m_instance_id>#<key_id>``: the verification method of an instance key."""
    return f"did:web:{check_instance_id(m_instance_id)}#{key_id}"


def parse_did_web_method(method: str) -> tuple[str, str]:
    """(M-Instance id, key id) of ``did:web:<host>#<key id>``; InvalidInput ``KEY_METHOD_MALFORMED``."""
    if not method.startswith("did:web:") or "#" not in method:
        raise InvalidInput(f"{method!r} is not a did:web verification method", reason="KEY_METHOD_MALFORMED")
    host, _, key_id = method.removeprefix("did:web:").partition("#")
    if not key_id or len(key_id) > 64:
        raise InvalidInput(f"{method!r} has no usable key id", reason="KEY_METHOD_MALFORMED")
    try:
        return check_instance_id(host), key_id
    except InvalidInput as err:
        raise InvalidInput(f"{method!r}: {err.message}", reason="KEY_METHOD_MALFORMED") from err


@dataclass(frozen=True)
class PublicKeyRecord:
    """One published verification key of an M-Instance (times in Unix ms; 0 = open/none).

    ``revocation_reason`` is ``compromised`` or ``superseded`` when ``revoked_at_ms`` is set, ""
    otherwise; build records from JSON with :meth:`from_json`, which reads a missing or unknown
    reason of a revoked key as ``compromised`` (see the module docstring)."""

    key_id: str
    public_key_multibase: str
    valid_from_ms: int
    valid_until_ms: int = 0
    revoked_at_ms: int = 0
    revocation_reason: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PublicKeyRecord:
        """A record from its JSON object (``keys.json``, a key cache entry, a peer's key set).

        Raises KeyError (a field missing), TypeError or ValueError (not a number)."""
        revoked_at_ms = int(raw.get("revoked_at_ms", 0) or 0)
        reason = str(raw.get("revocation_reason", "") or "").lower()
        if not revoked_at_ms:
            reason = ""
        elif reason not in REVOCATION_REASONS:
            reason = COMPROMISED  # written before reasons existed, or a reason we do not know: fail closed
        return cls(
            key_id=str(raw["key_id"]),
            public_key_multibase=str(raw["public_key_multibase"]),
            valid_from_ms=int(raw.get("valid_from_ms", 0) or 0),
            valid_until_ms=int(raw.get("valid_until_ms", 0) or 0),
            revoked_at_ms=revoked_at_ms,
            revocation_reason=reason,
        )

    @cached_property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key (decoded once)."""
        return multibase_decode(self.public_key_multibase)

    @property
    def compromised(self) -> bool:
        """True if the key is revoked for any reason but ``superseded`` (fails closed)."""
        return bool(self.revoked_at_ms) and self.revocation_reason != SUPERSEDED

    def usable_at(self, at_ms: int, *, verified_at_ms: int | None = None) -> str | None:
        """None if a signature made at ``at_ms`` (the proof's ``created``, Unix ms) may verify with
        this key when checked at ``verified_at_ms`` (Unix ms, the verifier's clock; default
        ``at_ms``), else the reason: ``KEY_REVOKED`` or ``KEY_NOT_VALID_AT_TIME``.

        A ``compromised`` key verifies nothing once ``verified_at_ms`` reaches ``revoked_at_ms``,
        whatever ``at_ms`` says (issue 12 item 4: a backdated ``created`` does not help); a
        ``superseded`` one still verifies signatures made before ``revoked_at_ms``."""
        if self.revoked_at_ms:
            checked_at = at_ms if verified_at_ms is None else verified_at_ms
            if at_ms >= self.revoked_at_ms or (self.compromised and checked_at >= self.revoked_at_ms):
                return "KEY_REVOKED"
        if at_ms < self.valid_from_ms or (self.valid_until_ms and at_ms >= self.valid_until_ms):
            return "KEY_NOT_VALID_AT_TIME"
        return None

    def describe_revocation(self) -> str:
        """``revoked (compromised) at <ms>``-style words for messages ("" if not revoked)."""
        if not self.revoked_at_ms:
            return ""
        return f"revoked ({self.revocation_reason or COMPROMISED}) at {self.revoked_at_ms} ms"


class InstanceKeyStore:
    """The keys of one M-Instance in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, m_instance_id: str) -> None:
        self.directory = directory
        self.m_instance_id = check_instance_id(m_instance_id)
        self._index = directory / "keys.json"
        self._cache: tuple[float, list[PublicKeyRecord]] | None = None
        # key_id -> its private key, loaded once: a key file never changes (ids are new per key;
        # revocation and expiry live in keys.json, checked on every ``current``).
        self._signing_keys: dict[str, SigningKey] = {}

    # -- reading ------------------------------------------------------------------------
    def records(self) -> list[PublicKeyRecord]:
        """Every key, oldest first (re-read when ``keys.json`` changes)."""
        try:
            mtime = self._index.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if self._cache is None or self._cache[0] != mtime:
            raw = json.loads(self._index.read_text())
            self._cache = (mtime, [PublicKeyRecord.from_json(r) for r in raw["keys"]])
        return list(self._cache[1])

    def current(self, at_ms: int | None = None) -> tuple[PublicKeyRecord, SigningKey]:
        """The newest key usable now, and its private key; FailedPrecondition ``NO_SIGNING_KEY``."""
        at = now_ms() if at_ms is None else at_ms
        for record in reversed(self.records()):
            if record.usable_at(at) is None:
                key = self._signing_keys.get(record.key_id)
                if key is None:
                    key = self._signing_keys[record.key_id] = load_signing_key(self.directory / f"{record.key_id}.pem")
                return record, key
        raise FailedPrecondition(
            f"{self.m_instance_id} has no usable signing key; run `mmmfed keys rotate`", reason="NO_SIGNING_KEY"
        )

    def method(self, record: PublicKeyRecord) -> str:
        return did_web_method(self.m_instance_id, record.key_id)

    # -- changing -----------------------------------------------------------------------
    def rotate(self, *, at_ms: int | None = None) -> PublicKeyRecord:
        """Make a new current key, valid from ``at_ms``; the previous current key stays valid
        for what it signed before (its validity ends at ``at_ms``)."""
        at = now_ms() if at_ms is None else at_ms
        self.directory.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        record = PublicKeyRecord(
            key_id=f"k-{uuid.uuid4().hex[:12]}",
            public_key_multibase=multibase_encode(key.public_key_bytes),
            valid_from_ms=at,
        )
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(self.directory / f"{record.key_id}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask (issue 12 item 6)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        records = [
            r if r.valid_until_ms or r.revoked_at_ms else PublicKeyRecord(**{**asdict(r), "valid_until_ms": at})
            for r in self.records()
        ]
        self._write([*records, record])
        return record

    def revoke(self, key_id: str, *, at_ms: int | None = None, reason: str = COMPROMISED) -> PublicKeyRecord:
        """Revoke ``key_id`` from ``at_ms`` (Unix ms; default now) for ``reason`` (``compromised``
        or ``superseded``: see the module docstring) and return the record as it then stands.

        Never weakens a revocation: a key already revoked keeps the earlier of the two times, and a
        ``compromised`` key stays ``compromised`` (``superseded`` becomes ``compromised`` when
        asked). Raises NotFound ``KEY_UNKNOWN``, InvalidInput ``REVOCATION_REASON_UNKNOWN``."""
        if reason not in REVOCATION_REASONS:
            raise InvalidInput(
                f"revocation reason {reason!r} is not one of {', '.join(REVOCATION_REASONS)}",
                reason="REVOCATION_REASON_UNKNOWN",
            )
        at = now_ms() if at_ms is None else at_ms
        records = self.records()
        existing = next((r for r in records if r.key_id == key_id), None)
        if existing is None:
            raise NotFound(f"{self.m_instance_id} has no key {key_id}", reason="KEY_UNKNOWN")
        if existing.revoked_at_ms:
            at = min(at, existing.revoked_at_ms)
            reason = COMPROMISED if existing.compromised else reason
        revoked = PublicKeyRecord(**{**asdict(existing), "revoked_at_ms": at, "revocation_reason": reason})
        if revoked != existing:
            self._write([revoked if r.key_id == key_id else r for r in records])
        return revoked

    def ensure_key(self) -> PublicKeyRecord:
        """The current key, made if there is none yet (first start of a gateway)."""
        try:
            return self.current()[0]
        except FailedPrecondition:
            return self.rotate()

    def _write(self, records: list[PublicKeyRecord]) -> None:
        tmp = self._index.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"m_instance_id": self.m_instance_id, "keys": [asdict(r) for r in records]}, indent=2)
        )
        os.replace(tmp, self._index)
        self._cache = None
