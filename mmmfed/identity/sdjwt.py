"""SD-JWT (RFC 9901) as mmmfed uses it: every selectively disclosable claim is a top-level object
property (section 4.2.1), hashed with ``sha-256`` (section 4.1.1), in the compact serialization.

Shapes:

- a Disclosure is ``base64url(JSON ["<salt>", "<claim name>", <value>])`` (section 4.2.1); its
  digest is ``base64url(SHA-256(ascii(disclosure)))`` (section 4.2.3), listed in the issuer JWT's
  ``_sd`` array (sorted, so the order tells nothing);
- an SD-JWT is ``<issuer JWT>~<disclosure 1>~...~<disclosure n>~`` and an SD-JWT+KB appends the
  KB-JWT after the last ``~`` (section 4);
- ``sd_hash`` is ``base64url(SHA-256(ascii(<issuer JWT>~<disclosures>~)))`` (section 4.3.1).

:func:`disclosed_claims` applies RFC 9901 section 7.1 steps 3-5: every Disclosure must be referenced
by exactly one digest (else ``DISCLOSURE_TAMPERED``: a changed disclosure no longer hashes to
what the issuer signed), none twice, no claim name clashing with a plain claim; ``_sd`` and
``_sd_alg`` are removed. Nested ``_sd`` or array ``...`` elements, which mmmfed never issues, are
refused (``CREDENTIAL_MALFORMED``) rather than passed on unresolved.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.identity.jose import b64url_decode, b64url_encode, json_bytes
from mmmfed.strictjson import parse_json

SD_ALG = "sha-256"
SD = "_sd"
SD_ALG_KEY = "_sd_alg"
SALT_BYTES = 16  # 128 bits, as RFC 9901 section 9.3 recommends
SEPARATOR = "~"
MAX_DISCLOSURES = 64
RESERVED_NAMES = frozenset({SD, SD_ALG_KEY, "..."})
DISCLOSURE_TAMPERED = "DISCLOSURE_TAMPERED"
DISCLOSURE_MALFORMED = "DISCLOSURE_MALFORMED"
PRESENTATION_MALFORMED = "PRESENTATION_MALFORMED"
CREDENTIAL_MALFORMED = "CREDENTIAL_MALFORMED"


def digest(text: str) -> str:
    """base64url SHA-256 of the ASCII ``text`` (a disclosure, or the SD-JWT for ``sd_hash``)."""
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


@dataclass(frozen=True)
class Disclosure:
    """One object-property Disclosure: its encoded text, salt, claim name and value."""

    encoded: str
    salt: str
    name: str
    value: Any

    @property
    def digest(self) -> str:
        return digest(self.encoded)


def make_disclosure(name: str, value: Any, *, salt: bytes | None = None) -> Disclosure:
    """A new Disclosure of ``name`` = ``value`` with a random 128-bit salt (``salt`` for tests)."""
    if name in RESERVED_NAMES:
        raise InvalidInput(f"claim name {name!r} is reserved by SD-JWT", reason=CREDENTIAL_MALFORMED)
    salt_text = b64url_encode(secrets.token_bytes(SALT_BYTES) if salt is None else salt)
    return Disclosure(b64url_encode(json_bytes([salt_text, name, value])), salt_text, name, value)


def parse_disclosure(encoded: str) -> Disclosure:
    """The Disclosure in ``encoded``; InvalidInput ``DISCLOSURE_MALFORMED`` unless it is a JSON
    array of a string salt, a string claim name that is not reserved, and a value."""
    try:
        raw = parse_json(b64url_decode(encoded, reason=DISCLOSURE_MALFORMED))
    except MmmfedError as err:
        raise InvalidInput(f"a disclosure is not base64url JSON: {err.message}", reason=DISCLOSURE_MALFORMED) from err
    if not (isinstance(raw, list) and len(raw) == 3 and isinstance(raw[0], str) and isinstance(raw[1], str)):
        raise InvalidInput('a disclosure must be ["salt", "claim name", value]', reason=DISCLOSURE_MALFORMED)
    if raw[1] in RESERVED_NAMES:
        raise InvalidInput(f"a disclosure names the reserved claim {raw[1]!r}", reason=DISCLOSURE_MALFORMED)
    return Disclosure(encoded, raw[0], raw[1], raw[2])


@dataclass(frozen=True)
class SdJwt:
    """An SD-JWT in compact form: the issuer-signed JWT, the disclosures sent, and the KB-JWT
    (None in an issuance or an SD-JWT without key binding)."""

    issuer_jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None = None

    def without_kb(self) -> str:
        """``<issuer JWT>~<d1>~...~<dn>~``: what ``sd_hash`` covers."""
        return SEPARATOR.join([self.issuer_jwt, *self.disclosures, ""])

    def serialize(self) -> str:
        """The compact serialization (with the KB-JWT when there is one)."""
        return self.without_kb() + (self.kb_jwt or "")

    @property
    def sd_hash(self) -> str:
        return digest(self.without_kb())


def parse_sd_jwt(text: str) -> SdJwt:
    """Split a compact SD-JWT or SD-JWT+KB; InvalidInput ``PRESENTATION_MALFORMED`` if it is not
    ``<JWT>~...~[<KB-JWT>]`` with at most :data:`MAX_DISCLOSURES` non-empty disclosures."""
    if not isinstance(text, str) or SEPARATOR not in text:
        raise InvalidInput("not an SD-JWT (<issuer JWT>~<disclosures>~<KB-JWT>)", reason=PRESENTATION_MALFORMED)
    parts = text.strip().split(SEPARATOR)
    issuer_jwt, disclosures, last = parts[0], parts[1:-1], parts[-1]
    if len(disclosures) > MAX_DISCLOSURES or any(not d for d in disclosures) or not issuer_jwt:
        raise InvalidInput("an SD-JWT has empty or too many disclosures", reason=PRESENTATION_MALFORMED)
    return SdJwt(issuer_jwt, tuple(disclosures), last or None)


def _check_not_nested(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        if SD in value:
            raise InvalidInput(f"nested selective disclosure at {where} is not supported", reason=CREDENTIAL_MALFORMED)
        for key, item in value.items():
            _check_not_nested(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping) and set(item) == {"..."}:
                raise InvalidInput(
                    f"array disclosure at {where}[{index}] is not supported", reason=CREDENTIAL_MALFORMED
                )
            _check_not_nested(item, f"{where}[{index}]")


def disclosed_claims(payload: Mapping[str, Any], disclosures: Sequence[str]) -> dict[str, Any]:
    """The issuer JWT's plain claims plus the disclosed ones (module docstring for the rules).

    Raises InvalidInput ``DISCLOSURE_TAMPERED`` (a disclosure not referenced, or sent twice),
    ``DISCLOSURE_MALFORMED``, ``CREDENTIAL_MALFORMED`` (``_sd_alg`` not sha-256, ``_sd`` not a list
    of unique strings, a nested ``_sd``, a disclosed name that is also a plain claim)."""
    if payload.get(SD_ALG_KEY, SD_ALG) != SD_ALG:
        raise InvalidInput(f"_sd_alg {payload.get(SD_ALG_KEY)!r} is not {SD_ALG}", reason=CREDENTIAL_MALFORMED)
    digests = payload.get(SD, [])
    if (
        not isinstance(digests, list)
        or not all(isinstance(d, str) for d in digests)
        or len(set(digests)) != len(digests)
    ):
        raise InvalidInput("_sd must be a list of distinct digests", reason=CREDENTIAL_MALFORMED)
    plain = {k: v for k, v in payload.items() if k not in (SD, SD_ALG_KEY)}
    _check_not_nested(plain, "$")
    known, seen = set(digests), set[str]()
    claims = dict(plain)
    for parsed in map(parse_disclosure, disclosures):
        if parsed.digest not in known or parsed.digest in seen:
            raise InvalidInput(
                f"disclosure of {parsed.name!r} does not match any digest the issuer signed (or is sent twice)",
                reason=DISCLOSURE_TAMPERED,
            )
        seen.add(parsed.digest)
        if parsed.name in claims:
            raise InvalidInput(f"claim {parsed.name!r} is disclosed twice", reason=CREDENTIAL_MALFORMED)
        _check_not_nested(parsed.value, parsed.name)
        claims[parsed.name] = parsed.value
    return claims


def sorted_digests(disclosures: Iterable[Disclosure], *, decoys: int = 0) -> list[str]:
    """The ``_sd`` array of ``disclosures``: their digests and ``decoys`` decoy digests (digests of
    random bytes, RFC 9901 section 4.2.5, so the array does not tell how many claims there are),
    sorted (section 4.2.4.1)."""
    fake = [b64url_encode(hashlib.sha256(secrets.token_bytes(SALT_BYTES)).digest()) for _ in range(decoys)]
    return sorted([*(d.digest for d in disclosures), *fake])
