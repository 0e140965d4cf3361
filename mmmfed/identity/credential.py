"""Issuing a user's identity credential as an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc; RFC 9901)
from the home M-Instance's current key (FGMV-43 9.4 step 1; IDIR-101/103/202).

The issuer JWT (header ``{"typ": "dc+sd-jwt", "alg": "Ed25519", "kid": "did:web:<home>#<key id>"}``)::

    {"iss": "did:web:a.example", "sub": "did:web:a.example:users:<id>", "vct": VCT,
     "iat": s, "exp": s, "cnf": {"jwk": <user's Ed25519 JWK>},
     "status": {"status_list": {"idx": n, "uri": "https://a.example/status/identity"}},
     "_sd_alg": "sha-256", "_sd": [<one digest per claim of mmmfed.identity.claims>]}

Every profile claim is a Disclosure (so each is disclosable on its own); the claims SD-JWT VC
section 3.2.2.2 keeps plain (``iss``, ``vct``, ``iat``, ``exp``, ``cnf``, ``status``) are plain, and
so is ``sub``: the destination needs the user's DID to recognise the same person arriving again
(issue 17 item 4), and it is a pseudonym at the home, not a profile fact. The ages are derived
from the birthdate on the UTC date of ``iat``; times are Unix seconds, passed in. ``_sd`` also
holds 1 to :data:`MAX_DECOYS` decoy digests (RFC 9901 section 4.2.5).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput
from mmmfed.identity.claims import IdentityProfile
from mmmfed.identity.jose import sign_jws
from mmmfed.identity.sdjwt import SD, SD_ALG, SD_ALG_KEY, SdJwt, make_disclosure, sorted_digests
from mmmfed.identity.status_list import StatusReference
from mmmfed.identity.user_did import UserKey
from mmmfed.keys import PublicKeyRecord, did_web_method
from mmmfed.proofs import SigningKey

SD_JWT_VC_TYP = "dc+sd-jwt"
VCT = "https://mmmfed.dev/vct/identity/v1"
DEFAULT_VALIDITY_S = 30 * 24 * 3600
# Decoy digests added to _sd: with up to MAX_DECOYS - 1 random extra ones, the array's length no
# longer tells which optional claims (languages, avatars, ...) a user has.
MAX_DECOYS = 4


@dataclass(frozen=True)
class Issuer:
    """The home M-Instance as issuer: its id, the current key's public record and private key."""

    m_instance_id: str
    record: PublicKeyRecord
    key: SigningKey

    @property
    def did(self) -> str:
        return f"did:web:{self.m_instance_id}"

    @property
    def kid(self) -> str:
        return did_web_method(self.m_instance_id, self.record.key_id)


def issue_credential(
    profile: IdentityProfile,
    *,
    issuer: Issuer,
    subject_did: str,
    holder: UserKey,
    status: StatusReference,
    issued_at_s: int,
    valid_for_s: int = DEFAULT_VALIDITY_S,
) -> SdJwt:
    """The SD-JWT VC of ``profile`` for ``subject_did`` bound to ``holder``'s key, with every
    Disclosure (the user picks which to present). InvalidInput ``CREDENTIAL_MALFORMED`` for a
    non-positive validity, and the profile's own errors (:mod:`.claims`)."""
    if valid_for_s <= 0:
        raise InvalidInput("a credential's validity must be positive", reason="CREDENTIAL_MALFORMED")
    issued_on = dt.datetime.fromtimestamp(issued_at_s, tz=dt.UTC).date()
    disclosures = [make_disclosure(name, value) for name, value in profile.claims(issued_on=issued_on).items()]
    payload: dict[str, Any] = {
        "iss": issuer.did,
        "sub": subject_did,
        "vct": VCT,
        "iat": issued_at_s,
        "exp": issued_at_s + valid_for_s,
        "cnf": {"jwk": holder.jwk},
        "status": status.to_json(),
        SD_ALG_KEY: SD_ALG,
        SD: sorted_digests(disclosures, decoys=1 + secrets.randbelow(MAX_DECOYS)),
    }
    issuer_jwt = sign_jws({"typ": SD_JWT_VC_TYP, "kid": issuer.kid}, payload, issuer.key)
    return SdJwt(issuer_jwt, tuple(d.encoded for d in disclosures))
