"""The thin layer over joserfc: base64url (RFC 7515 section 2), Ed25519 public JWKs (RFC 8037
section 2) and compact JWS signed with ``alg`` ``Ed25519`` (RFC 9864 section 2.2).

Payloads are JSON objects serialized compactly (no spaces) and read back with
:func:`mmmfed.strictjson.parse_json` from the exact bytes received (duplicate members refused).
Nothing here knows SD-JWT; :mod:`.sdjwt` and the modules above it do.

Errors: :class:`~mmmfed.errors.InvalidInput` with the reason the caller passes for a malformed
token (``*_MALFORMED``) and ``JWK_INVALID`` for a key that is not an Ed25519 public JWK.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.proofs import SigningKey
from mmmfed.strictjson import parse_json

ALG = "Ed25519"  # RFC 9864: the fully specified successor of "EdDSA" with the Ed25519 curve
MAX_TOKEN_BYTES = 256 * 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, reason: str) -> bytes:
    """The bytes of unpadded base64url ``text``; InvalidInput ``reason`` if it is not that, or is
    not the one canonical spelling (RFC 4648 section 3.5: the unused bits of the last character
    zero), so no part of a token can be re-spelled and still pass."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidInput("not unpadded base64url text", reason=reason)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise InvalidInput(f"not base64url: {err}", reason=reason) from err
    if b64url_encode(data) != text:  # unused low bits set: another spelling of the same bytes
        raise InvalidInput("not canonical base64url (unused bits set)", reason=reason)
    return data


def json_bytes(value: Mapping[str, Any] | list[Any]) -> bytes:
    """Compact UTF-8 JSON of ``value`` (what we sign and what disclosures hold)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def public_jwk(public_key: bytes, *, kid: str | None = None) -> dict[str, str]:
    """``{"kty": "OKP", "crv": "Ed25519", "x": ...}`` for a 32-byte key (with ``kid`` if given)."""
    if len(public_key) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes", reason="JWK_INVALID")
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key)}
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def public_key_from_jwk(jwk: object) -> bytes:
    """The 32-byte key of an Ed25519 public JWK; InvalidInput ``JWK_INVALID`` for anything else
    (another key type or curve, a private member ``d``, ``x`` not 32 bytes)."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidInput('not an Ed25519 public JWK ({"kty": "OKP", "crv": "Ed25519"})', reason="JWK_INVALID")
    if "d" in jwk:
        raise InvalidInput("a public JWK must not hold the private key member d", reason="JWK_INVALID")
    key = b64url_decode(str(jwk.get("x", "")), reason="JWK_INVALID")
    if len(key) != 32:
        raise InvalidInput("an Ed25519 JWK's x is 32 bytes", reason="JWK_INVALID")
    return key


def sign_jws(header: Mapping[str, str], payload: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS of ``payload`` with ``header`` (``alg`` set to :data:`ALG` here) signed by ``key``."""
    protected = {**header, "alg": ALG}
    return jws.serialize_compact(protected, json_bytes(payload), OKPKey.import_key(key.private_key), algorithms=[ALG])


@dataclass(frozen=True)
class Jws:
    """A compact JWS read but not yet verified: its header, payload (a JSON object) and text."""

    header: dict[str, Any]
    payload: dict[str, Any]
    text: str

    def verify(self, public_key: bytes) -> bool:
        """True if the signature verifies with the 32-byte Ed25519 ``public_key`` under :data:`ALG`."""
        if len(public_key) != 32:
            return False
        okp = OKPKey.import_key(Ed25519PublicKey.from_public_bytes(public_key))
        try:
            jws.deserialize_compact(self.text, okp, algorithms=[ALG])
        except JoseError:
            return False
        return True


def read_jws(text: str, *, reason: str) -> Jws:
    """Split and decode a compact JWS without verifying it; InvalidInput ``reason`` if it is not
    three base64url parts with a JSON-object header naming :data:`ALG` and a JSON-object payload."""
    if not isinstance(text, str) or len(text) > MAX_TOKEN_BYTES or text.count(".") != 2:
        raise InvalidInput("not a compact JWS (three base64url parts joined by '.')", reason=reason)
    head, body, signature = text.split(".")
    b64url_decode(signature, reason=reason)
    try:
        header = parse_json(b64url_decode(head, reason=reason))
        payload = parse_json(b64url_decode(body, reason=reason))
    except MmmfedError as err:
        raise InvalidInput(f"JWS header or payload is not strict JSON: {err.message}", reason=reason) from err
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise InvalidInput("JWS header and payload must be JSON objects", reason=reason)
    if header.get("alg") != ALG:
        raise InvalidInput(f"JWS alg {header.get('alg')!r} is not {ALG}", reason=reason)
    return Jws(header=header, payload=payload, text=text)
