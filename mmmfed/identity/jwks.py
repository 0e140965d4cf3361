"""An M-Instance's public keys as a JWK Set (RFC 7517 section 5), for verifiers of its identity
credentials and status lists outside the federation (issue 17 "Done when": ``keys export``).

Shape::

    {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "...", "kid": "did:web:a.example#k-...",
               "alg": "Ed25519", "use": "sig"}]}

``kid`` is the key's did:web verification method, as the credentials' ``kid`` header names it.
Like the DID document's ``assertionMethod`` (:mod:`mmmfed.did_document`), a key revoked as
*compromised* is left out (it verifies nothing); a key rotated out or *superseded* stays, since
what it signed while valid still verifies. A JWK has no member for validity times: a verifier
that must honour them reads the DID document or the key service instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mmmfed.identity.jose import ALG, public_jwk
from mmmfed.keys import PublicKeyRecord, did_web_method


def instance_jwk_set(m_instance_id: str, records: Iterable[PublicKeyRecord]) -> dict[str, Any]:
    """The JWK Set of ``m_instance_id``'s keys ``records`` (module docstring), oldest first."""
    keys = [
        {**public_jwk(r.public_key, kid=did_web_method(m_instance_id, r.key_id)), "alg": ALG, "use": "sig"}
        for r in records
        if not r.compromised
    ]
    return {"keys": keys}
