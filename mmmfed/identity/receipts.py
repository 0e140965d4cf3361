"""Unlinking an identity (IDIR-204; issue 17 item 5): the user's signed request and the
destination's signed receipt of deletion, both compact JWS (``alg`` ``Ed25519``, :mod:`.jose`).

- The request, signed by the user's key (the one the credential's ``cnf`` names, which the
  destination kept with the link): header ``{"typ": "unlink+jwt"}``, payload
  ``{"sub": <DID>, "aud": <destination M-Instance>, "iat": s, "action": "unlink"}``.
- The receipt, signed by the destination M-Instance's current key: header
  ``{"typ": "deletion-receipt+jwt", "kid": "did:web:<destination>#<key id>"}``, payload
  ``{"iss": "did:web:<destination>", "aud": "did:web:<home>", "sub": <DID>, "process_id": ...,
  "deleted_claims": [names], "iat": s, "jti": "urn:uuid:..."}``.

The home verifies the receipt with the destination's published keys (its key service over RE-5)
and keeps it. Times are Unix seconds, passed in. Errors: InvalidInput ``UNLINK_REQUEST_INVALID``
(malformed, not for this destination or DID, not signed by the user's key, older than
:data:`REQUEST_WINDOW_S` or older than the link), ``RECEIPT_INVALID`` (malformed, another
issuer, audience or DID, or a signature that does not verify).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.identity.jose import public_key_from_jwk, read_jws, sign_jws
from mmmfed.proofs import SigningKey

UNLINK_TYP = "unlink+jwt"
RECEIPT_TYP = "deletion-receipt+jwt"
REQUEST_WINDOW_S = 300
UNLINK_REQUEST_INVALID = "UNLINK_REQUEST_INVALID"
RECEIPT_INVALID = "RECEIPT_INVALID"


def unlink_request(did: str, *, destination: str, user_key: SigningKey, iat_s: int) -> str:
    """The user's request to ``destination`` to unlink ``did`` (module docstring)."""
    return sign_jws({"typ": UNLINK_TYP}, {"sub": did, "aud": destination, "iat": iat_s, "action": "unlink"}, user_key)


def check_unlink_request(
    token: str, *, did: str, destination: str, holder_jwk: object, linked_at_s: int, now_s: int
) -> None:
    """None if ``token`` is ``did``'s request to unlink at ``destination``, signed by the key in
    ``holder_jwk``, made within :data:`REQUEST_WINDOW_S` of ``now_s`` and not before the link;
    InvalidInput ``UNLINK_REQUEST_INVALID`` naming what is wrong otherwise."""

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"unlink request: {why}", reason=UNLINK_REQUEST_INVALID)

    try:
        jws = read_jws(token, reason=UNLINK_REQUEST_INVALID)
        key = public_key_from_jwk(holder_jwk)
    except MmmfedError as err:
        raise bad(err.message) from err
    if jws.header.get("typ") != UNLINK_TYP or not jws.verify(key):
        raise bad("not an unlink+jwt signed by the user's key the credential named")
    payload = jws.payload
    if payload.get("sub") != did or payload.get("aud") != destination or payload.get("action") != "unlink":
        raise bad(f"it is not a request to unlink {did} at {destination}")
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool) or not (now_s - REQUEST_WINDOW_S < iat <= now_s + 60):
        raise bad(f"iat {iat!r} is outside the last {REQUEST_WINDOW_S} s")
    if iat < linked_at_s:
        raise bad("it was made before the identity was linked")


def deletion_receipt(
    *,
    destination: str,
    home: str,
    did: str,
    process_id: str,
    deleted_claims: Sequence[str],
    key: SigningKey,
    kid: str,
    iat_s: int,
) -> str:
    """The destination's receipt of deletion (module docstring), signed by ``key`` (``kid`` its
    verification method)."""
    payload = {
        "iss": f"did:web:{destination}",
        "aud": f"did:web:{home}",
        "sub": did,
        "process_id": process_id,
        "deleted_claims": sorted(deleted_claims),
        "iat": iat_s,
        "jti": f"urn:uuid:{uuid.uuid4()}",
    }
    return sign_jws({"typ": RECEIPT_TYP, "kid": kid}, payload, key)


@dataclass(frozen=True)
class Receipt:
    """A verified receipt: its header and payload (module docstring) and the text itself."""

    header: dict[str, Any]
    payload: dict[str, Any]
    text: str

    @property
    def iat_s(self) -> int:
        return int(self.payload["iat"])

    def to_json(self) -> dict[str, Any]:
        return {"kid": self.header.get("kid"), **self.payload}


def read_receipt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a receipt, unverified (for display); InvalidInput
    ``RECEIPT_INVALID`` if it is not a compact JWS."""
    jws = read_jws(token, reason=RECEIPT_INVALID)
    return jws.header, jws.payload


def verify_receipt(
    token: str, *, destination: str, home: str, did: str, key_of: Callable[[str, int], bytes]
) -> Receipt:
    """The receipt ``token`` once shown to be ``destination``'s receipt of deletion of ``did``
    for ``home``; ``key_of(kid, iat_s)`` returns the destination's published key (raising the
    caller's refusal for an unknown or revoked key). InvalidInput ``RECEIPT_INVALID`` otherwise."""

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"receipt of deletion from {destination}: {why}", reason=RECEIPT_INVALID)

    try:
        jws = read_jws(token, reason=RECEIPT_INVALID)
    except MmmfedError as err:
        raise bad(err.message) from err
    header, payload = jws.header, jws.payload
    iat = payload.get("iat")
    if header.get("typ") != RECEIPT_TYP or not isinstance(header.get("kid"), str) or not isinstance(iat, int):
        raise bad(f"not a {RECEIPT_TYP} with a kid and an iat")
    expected = (f"did:web:{destination}", f"did:web:{home}", did)
    if (payload.get("iss"), payload.get("aud"), payload.get("sub")) != expected:
        raise bad(f"it is not {destination}'s receipt for {did} at {home}")
    if not str(header["kid"]).startswith(f"did:web:{destination}#"):
        raise bad(f"kid {header['kid']!r} is not a key of {destination}")
    if not jws.verify(key_of(str(header["kid"]), iat)):
        raise bad("its signature does not verify with the destination's published key")
    return Receipt(header, payload, token)
