"""An M-Instance's public keys as its did:web DID document (W3C DID Core 1.0; the verification
method properties of W3C Controlled Identifiers 1.0 section 2.2), for verifiers outside the
federation: ``mmmfed keys export`` writes it, ``mmmfed item verify --keys`` reads it.

Shape (one verification method per key the M-Instance ever published, oldest first)::

    {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
     "id": "did:web:a.example",
     "verificationMethod": [
        {"id": "did:web:a.example#k-1a2b3c4d5e6f", "type": "Multikey",
         "controller": "did:web:a.example", "publicKeyMultibase": "z6Mk...",
         "expires": "2027-01-01T00:00:00Z", "revoked": "2026-12-01T00:00:00Z"}],
     "assertionMethod": ["did:web:a.example#k-1a2b3c4d5e6f"]}

``expires`` (the key's validity end) and ``revoked`` appear only when set. A key revoked as
*superseded* stays in ``assertionMethod``: what it signed before ``revoked`` still verifies, as at
a gateway. A key revoked as *compromised* is left out of ``assertionMethod``: it verifies nothing
(a backdated ``created`` does not help; GPIR-003). The document does not carry a key's validity
start, which DID documents have no property for.

Reading (:func:`load_did_document`) is strict: a file that is not such a document raises
:class:`~mmmfed.errors.InvalidInput` ``KEY_FILE_INVALID`` naming the file and the member.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmmfed.did import DID_KEY_PREFIX, did_key, multibase_decode
from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.keys import PublicKeyRecord, did_web_method
from mmmfed.strictjson import parse_json

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
MAX_DID_DOCUMENT_BYTES = 1024 * 1024
KEY_FILE_INVALID = "KEY_FILE_INVALID"
KEY_REVOKED = "KEY_REVOKED"
KEY_NOT_VALID_AT_TIME = "KEY_NOT_VALID_AT_TIME"


def rfc3339(ms: int) -> str:
    """Unix ms as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339_ms(text: str) -> int:
    """An RFC 3339 time with a zone as Unix ms; ValueError otherwise."""
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return int(parsed.timestamp() * 1000)


def instance_did_document(m_instance_id: str, records: Iterable[PublicKeyRecord]) -> dict[str, Any]:
    """The did:web DID document of ``m_instance_id`` listing ``records`` (module docstring)."""
    did = f"did:web:{m_instance_id}"
    methods: list[dict[str, str]] = []
    asserting: list[str] = []
    for record in records:
        method_id = did_web_method(m_instance_id, record.key_id)
        method = {"id": method_id, "type": "Multikey", "controller": did}
        method["publicKeyMultibase"] = did_key(record.public_key).removeprefix(DID_KEY_PREFIX)  # 0xed01 + key
        if record.valid_until_ms:
            method["expires"] = rfc3339(record.valid_until_ms)
        if record.revoked_at_ms:
            method["revoked"] = rfc3339(record.revoked_at_ms)
        methods.append(method)
        if not record.compromised:
            asserting.append(method_id)
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": asserting,
    }


@dataclass(frozen=True)
class DocumentKey:
    """One verification method of a loaded DID document: its id, 32-byte Ed25519 key, validity
    end and revocation (Unix ms, 0 = none) and whether it may assert (``assertionMethod``)."""

    id: str
    public_key: bytes
    expires_ms: int
    revoked_ms: int
    asserts: bool
    path: Path

    def refusal_at(self, created_ms: int) -> str | None:
        """None if a proof created at ``created_ms`` (Unix ms) may verify with this key, else
        ``KEY_REVOKED`` (not an assertion method, or created at or after ``revoked``) or
        ``KEY_NOT_VALID_AT_TIME`` (created at or after ``expires``)."""
        if not self.asserts or (self.revoked_ms and created_ms >= self.revoked_ms):
            return KEY_REVOKED
        if self.expires_ms and created_ms >= self.expires_ms:
            return KEY_NOT_VALID_AT_TIME
        return None


def is_did_document(doc: object) -> bool:
    """True if ``doc`` (parsed JSON) looks like a DID document rather than a single key file."""
    return isinstance(doc, Mapping) and "verificationMethod" in doc


def load_did_document(path: Path, data: bytes | None = None) -> list[DocumentKey]:
    """The Multikey verification methods of the DID document in ``path`` (``data``: its bytes,
    if already read). Raises InvalidInput ``KEY_FILE_INVALID`` naming the file and member."""

    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"{path}: {message}; pass the file `mmmfed keys export` wrote", reason=KEY_FILE_INVALID)

    try:
        raw = path.read_bytes() if data is None else data
        doc = parse_json(raw, max_bytes=MAX_DID_DOCUMENT_BYTES)
    except OSError as err:
        raise bad(f"cannot read: {err.strerror}") from err
    except MmmfedError as err:
        raise bad(f"not a DID document ({err.reason}: {err.message})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise bad('not a DID document: expected a JSON object with a string "id"')
    methods, asserting = doc.get("verificationMethod"), doc.get("assertionMethod", [])
    if not isinstance(methods, list) or not isinstance(asserting, list):
        raise bad('"verificationMethod" and "assertionMethod" must be lists')
    keys: list[DocumentKey] = []
    for index, method in enumerate(methods):
        where = f"verificationMethod[{index}]"
        if not isinstance(method, dict) or method.get("type") != "Multikey" or not isinstance(method.get("id"), str):
            raise bad(f'{where} is not a Multikey verification method with a string "id"')
        try:
            public_key = multibase_decode(str(method.get("publicKeyMultibase", "")))
        except MmmfedError as err:
            raise bad(f'{where} "publicKeyMultibase": {err.message}') from err
        if len(public_key) != 34 or public_key[:2] != b"\xed\x01":
            raise bad(f'{where} "publicKeyMultibase" is not an Ed25519 Multikey (z6Mk...)')
        try:
            times = {name: parse_rfc3339_ms(str(method[name])) for name in ("expires", "revoked") if name in method}
        except ValueError as err:
            raise bad(f"{where}: expires/revoked is not an RFC 3339 time: {err}") from err
        keys.append(
            DocumentKey(
                id=method["id"],
                public_key=public_key[2:],
                expires_ms=times.get("expires", 0),
                revoked_ms=times.get("revoked", 0),
                asserts=method["id"] in asserting,
                path=path,
            )
        )
    return keys
