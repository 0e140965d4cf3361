"""IETF Token Status List (draft-ietf-oauth-status-list) for identity credentials (issue 17
item 3; FGMV-43 9.4 step 3, IDIR-306): the home M-Instance publishes one, the destination reads
the credential's bit before admitting it.

Shapes:

- a Status List is ``{"bits": 1|2|4|8, "lst": base64url(zlib(DEFLATE) of the byte array)}``
  (section 4.1); status ``idx`` sits in byte ``idx * bits // 8`` from its least significant bit up
  (section 4.1, "the first status is in the least significant bits of the first byte");
- the Status List Token is a JWT, header ``typ`` ``statuslist+jwt`` and ``kid``, payload
  ``{"sub": <uri>, "iat": s, "exp": s, "ttl": s, "status_list": {...}}`` (section 5.1; times in
  Unix seconds);
- a credential points at it with ``"status": {"status_list": {"idx": n, "uri": <uri>}}``
  (section 6.1), and ``sub`` must equal that ``uri`` (section 8.3).

Status values (section 7.1): 0 ``VALID``, 1 ``INVALID`` (revoked), 2 ``SUSPENDED``.

Errors: InvalidInput ``STATUS_LIST_INVALID`` (a token or list we cannot read, the wrong ``typ``
or ``sub``, a bad signature, expired), ``STATUS_INDEX_INVALID`` (an index outside the list).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.identity.jose import b64url_decode, b64url_encode, read_jws, sign_jws
from mmmfed.proofs import SigningKey

STATUS_LIST_TYP = "statuslist+jwt"
VALID, INVALID, SUSPENDED = 0, 1, 2
DEFAULT_SIZE = 16_384  # entries: a list this long hides which credential was looked up (herd privacy)
MAX_LIST_BYTES = 1 << 20  # decompressed, refused past this
STATUS_LIST_INVALID = "STATUS_LIST_INVALID"


class StatusList:
    """A mutable list of ``size`` statuses of ``bits`` each, all ``VALID`` at first."""

    def __init__(self, size: int = DEFAULT_SIZE, *, bits: int = 1, data: bytes | None = None) -> None:
        if bits not in (1, 2, 4, 8):
            raise InvalidInput(f"bits {bits} is not 1, 2, 4 or 8", reason=STATUS_LIST_INVALID)
        self.bits = bits
        length = (size * bits + 7) // 8
        self._data = bytearray(data if data is not None else bytes(length))
        self.size = len(self._data) * 8 // bits

    def _place(self, idx: int) -> tuple[int, int]:
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < self.size:
            raise InvalidInput(f"status index {idx!r} is outside 0..{self.size - 1}", reason="STATUS_INDEX_INVALID")
        bit = idx * self.bits
        return bit // 8, bit % 8

    def get(self, idx: int) -> int:
        byte, shift = self._place(idx)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def set(self, idx: int, status: int) -> None:
        if not 0 <= status < (1 << self.bits):
            raise InvalidInput(f"status {status} does not fit in {self.bits} bits", reason=STATUS_LIST_INVALID)
        byte, shift = self._place(idx)
        mask = ((1 << self.bits) - 1) << shift
        self._data[byte] = (self._data[byte] & ~mask) | (status << shift)

    def revoke(self, idx: int) -> None:
        """Mark ``idx`` ``INVALID``: the credential behind it is refused from now on."""
        self.set(idx, INVALID)

    def to_json(self) -> dict[str, Any]:
        """``{"bits": ..., "lst": ...}`` (zlib, best compression)."""
        return {"bits": self.bits, "lst": b64url_encode(zlib.compress(bytes(self._data), 9))}

    @classmethod
    def from_json(cls, raw: object) -> StatusList:
        """The list in a ``status_list`` member; InvalidInput ``STATUS_LIST_INVALID`` else."""
        bits = raw.get("bits") if isinstance(raw, dict) else None
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("lst"), str)
            or type(bits) is not int
            or bits not in (1, 2, 4, 8)
        ):
            raise InvalidInput('status_list must be {"bits": 1|2|4|8, "lst": "..."}', reason=STATUS_LIST_INVALID)
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(b64url_decode(raw["lst"], reason=STATUS_LIST_INVALID), MAX_LIST_BYTES)
        except zlib.error as err:
            raise InvalidInput(f"status list lst is not zlib data: {err}", reason=STATUS_LIST_INVALID) from err
        if inflater.unconsumed_tail or not inflater.eof:
            raise InvalidInput("status list is truncated or larger than we read", reason=STATUS_LIST_INVALID)
        return cls(bits=bits, data=data)


def status_list_token(
    status_list: StatusList, *, uri: str, key: SigningKey, kid: str, iat_s: int, ttl_s: int = 300, exp_s: int = 0
) -> str:
    """The Status List Token JWT of ``status_list`` published at ``uri``, signed by the home
    M-Instance's ``key`` (``kid`` its verification method); ``exp`` omitted when ``exp_s`` is 0."""
    payload: dict[str, Any] = {"sub": uri, "iat": iat_s, "ttl": ttl_s, "status_list": status_list.to_json()}
    if exp_s:
        payload["exp"] = exp_s
    return sign_jws({"typ": STATUS_LIST_TYP, "kid": kid}, payload, key)


def read_status_list_token(token: str, *, uri: str, issuer_key: Callable[[str, int], bytes], now_s: int) -> StatusList:
    """The list in ``token`` once it is shown to be the home M-Instance's list for ``uri``.

    ``issuer_key(kid, iat_s)`` returns the 32-byte key the home published under ``kid`` usable at
    ``iat_s`` (raising the caller's refusal otherwise). Raises InvalidInput ``STATUS_LIST_INVALID``."""

    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"status list token for {uri}: {message}", reason=STATUS_LIST_INVALID)

    try:
        jwt = read_jws(token, reason=STATUS_LIST_INVALID)
    except MmmfedError as err:
        raise bad(err.message) from err
    header, payload = jwt.header, jwt.payload
    if header.get("typ") != STATUS_LIST_TYP or not isinstance(header.get("kid"), str):
        raise bad(f"typ must be {STATUS_LIST_TYP} with a kid")
    iat, exp = payload.get("iat"), payload.get("exp", 0)
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise bad("iat and exp must be integers (Unix seconds)")
    if not jwt.verify(issuer_key(header["kid"], iat)):
        raise bad("signature does not verify with the home M-Instance's key")
    if payload.get("sub") != uri:
        raise bad(f"sub {payload.get('sub')!r} is not the credential's status uri")
    if exp and now_s >= exp:
        raise bad(f"expired at {exp}")
    return StatusList.from_json(payload.get("status_list"))


@dataclass(frozen=True)
class StatusReference:
    """A credential's ``status.status_list`` member: its index in the list at ``uri``."""

    idx: int
    uri: str

    def to_json(self) -> dict[str, Any]:
        return {"status_list": {"idx": self.idx, "uri": self.uri}}
