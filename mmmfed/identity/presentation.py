"""The holder's presentation: only the Disclosures the user chose, bound to the destination by a
Key Binding JWT (RFC 9901 section 4.3) signed with the user's key (FGMV-43 9.4 step 2, IDMF;
issue 17 item 2).

The KB-JWT: header ``{"typ": "kb+jwt", "alg": "Ed25519"}``, payload
``{"iat": s, "aud": <destination M-Instance>, "nonce": <the destination's nonce>,
"sd_hash": <base64url SHA-256 of "<issuer JWT>~<chosen disclosures>~">}``.

Nothing not chosen is sent: the Disclosures left out never leave the holder, and their digests in
the issuer JWT reveal nothing (salted). Errors: InvalidInput ``DISCLOSE_UNKNOWN_CLAIM`` (a name the
credential cannot disclose; the message lists those it can), ``HOLDER_KEY_MISMATCH`` (the key is
not the one the credential's ``cnf`` names), ``PRESENTATION_MALFORMED``.
"""

from __future__ import annotations

from collections.abc import Iterable

from mmmfed.errors import InvalidInput
from mmmfed.identity.jose import public_jwk, public_key_from_jwk, read_jws, sign_jws
from mmmfed.identity.sdjwt import PRESENTATION_MALFORMED, SdJwt, parse_disclosure, parse_sd_jwt
from mmmfed.proofs import SigningKey

KB_JWT_TYP = "kb+jwt"


def disclosable(issuance: SdJwt) -> dict[str, str]:
    """Claim name -> its Disclosure, for every Disclosure the holder has."""
    return {d.name: d.encoded for d in map(parse_disclosure, issuance.disclosures)}


def present(
    issuance: SdJwt | str,
    *,
    disclose: Iterable[str],
    audience: str,
    nonce: str,
    holder_key: SigningKey,
    iat_s: int,
) -> SdJwt:
    """An SD-JWT+KB of ``issuance`` disclosing exactly the claims named in ``disclose`` (in the
    issuance's order), for ``audience`` and ``nonce``, signed by ``holder_key`` at ``iat_s``."""
    sd_jwt = parse_sd_jwt(issuance) if isinstance(issuance, str) else issuance
    if not audience or not nonce:
        raise InvalidInput(
            "a presentation needs the destination (audience) and its nonce", reason=PRESENTATION_MALFORMED
        )
    cnf = read_jws(sd_jwt.issuer_jwt, reason=PRESENTATION_MALFORMED).payload.get("cnf")
    bound = public_key_from_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None)
    if bound != holder_key.public_key_bytes:
        raise InvalidInput(
            f"the credential is bound to {public_jwk(bound)['x']}, not to this key", reason="HOLDER_KEY_MISMATCH"
        )
    available = disclosable(sd_jwt)
    chosen = set(disclose)
    unknown = sorted(chosen - set(available))
    if unknown:
        raise InvalidInput(
            f"cannot disclose {', '.join(unknown)}: the credential holds {', '.join(sorted(available))}",
            reason="DISCLOSE_UNKNOWN_CLAIM",
        )
    selected = SdJwt(sd_jwt.issuer_jwt, tuple(enc for name, enc in available.items() if name in chosen))
    kb_payload = {"iat": iat_s, "aud": audience, "nonce": nonce, "sd_hash": selected.sd_hash}
    kb_jwt = sign_jws({"typ": KB_JWT_TYP}, kb_payload, holder_key)
    return SdJwt(selected.issuer_jwt, selected.disclosures, kb_jwt)
