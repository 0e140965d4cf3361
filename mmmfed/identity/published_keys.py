"""An issuer's published keys read from a file, for verifying presentations outside the
federation (``mmmfed identity verify --keys``; issue 17 "Done when"): the DID document ``mmmfed
keys export`` writes (:mod:`mmmfed.did_document`), or the JWK Set of ``keys export --format jwks``
(:mod:`.jwks`).

Both become :class:`~mmmfed.keys.PublicKeyRecord` entries, so the verifier applies one rule to
keys from a file and from the key service: a DID document's ``expires`` is the validity end, its
``revoked`` with the key still in ``assertionMethod`` is a *superseded* revocation, and a key left
out of ``assertionMethod`` is *compromised*. A JWK Set carries no times: its keys are open, and a
compromised key is simply absent. Errors: InvalidInput ``KEY_FILE_INVALID`` naming the file.
"""

from __future__ import annotations

from pathlib import Path

from mmmfed.did import multibase_encode
from mmmfed.did_document import is_did_document, load_did_document
from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.identity.jose import public_key_from_jwk
from mmmfed.keys import COMPROMISED, SUPERSEDED, PublicKeyRecord, parse_did_web_method
from mmmfed.strictjson import parse_json

KEY_FILE_INVALID = "KEY_FILE_INVALID"
MAX_KEY_SET_BYTES = 1024 * 1024


def load_published_keys(path: Path) -> tuple[str, list[PublicKeyRecord]]:
    """(M-Instance id, its key records) from a DID document or JWK Set file."""

    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"{path}: {message}; pass the file `mmmfed keys export` wrote", reason=KEY_FILE_INVALID)

    try:
        data = path.read_bytes()
        doc = parse_json(data, max_bytes=MAX_KEY_SET_BYTES)
    except OSError as err:
        raise bad(f"cannot read: {err.strerror}") from err
    except MmmfedError as err:
        raise bad(f"not JSON ({err.message})") from err
    hosts: set[str] = set()
    records: list[PublicKeyRecord] = []
    try:
        if is_did_document(doc):
            for key in load_did_document(path, data):
                host, key_id = parse_did_web_method(key.id)
                revoked, reason = key.revoked_ms, SUPERSEDED if key.revoked_ms else ""
                if not key.asserts:
                    revoked, reason = revoked or 1, COMPROMISED
                hosts.add(host)
                records.append(
                    PublicKeyRecord(key_id, multibase_encode(key.public_key), 0, key.expires_ms, revoked, reason)
                )
        elif isinstance(doc, dict) and isinstance(doc.get("keys"), list):
            for jwk in doc["keys"]:
                host, key_id = parse_did_web_method(str(jwk.get("kid", "")) if isinstance(jwk, dict) else "")
                hosts.add(host)
                records.append(PublicKeyRecord(key_id, multibase_encode(public_key_from_jwk(jwk)), 0))
        else:
            raise bad('neither a DID document nor a JWK Set ({"keys": [...]})')
    except InvalidInput as err:
        if err.reason == KEY_FILE_INVALID:
            raise
        raise bad(err.message) from err
    if len(hosts) != 1:
        raise bad(f"the keys must all be one M-Instance's, not {sorted(hosts) or 'none'}")
    return hosts.pop(), records
