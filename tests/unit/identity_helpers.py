"""Shared set-up for the identity tests (issue 17; FGMV-43 9.4 steps 1-3): a home M-Instance
a.example with its instance keys, a user with a held key, a status list, and b.example as the
destination with its verifier. Times are fixed Unix seconds: nothing reads the wall clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmmfed.identity.claims import IdentityProfile
from mmmfed.identity.credential import Issuer, issue_credential
from mmmfed.identity.nonces import NonceStore
from mmmfed.identity.policy import EligibilityPolicy
from mmmfed.identity.presentation import present
from mmmfed.identity.sdjwt import SdJwt
from mmmfed.identity.status_list import StatusList, StatusReference, status_list_token
from mmmfed.identity.user_did import UserKey, user_did
from mmmfed.identity.verifier import IdentityVerifier
from mmmfed.keys import InstanceKeyStore, PublicKeyRecord

HOME = "a.example"
DEST = "b.example"
T0_S = 1_800_000_000  # 2027-01-15T08:00:00Z
STATUS_URI = f"https://{HOME}/status/identity/1"
ADULT = IdentityProfile(
    name="Ada",
    birthdate=dt.date(1990, 5, 17),
    languages=("en", "it"),
    comfort={"motion": "reduced", "max_volume_db": 70},
    avatars=(f"mmm://{HOME}/items/avatar-1",),
    assets=(f"mmm://{HOME}/items/hat-7",),
    rights=(f"mmm://{HOME}/rights/r-3",),
)
MINOR = IdentityProfile(name="Kit", birthdate=dt.date(2012, 3, 1))


@dataclass
class Home:
    """a.example: its key store (one key, current from T0_S - 3600), its status list, a user."""

    keys: InstanceKeyStore
    status: StatusList = field(default_factory=lambda: StatusList(1024))
    user: UserKey = field(default_factory=UserKey.generate)

    def issuer(self, at_s: int = T0_S) -> Issuer:
        record, key = self.keys.current(at_s * 1000)
        return Issuer(HOME, record, key)

    def issue(self, profile: IdentityProfile = ADULT, *, idx: int = 7, at_s: int = T0_S) -> SdJwt:
        return issue_credential(
            profile,
            issuer=self.issuer(at_s),
            subject_did=user_did(HOME, "u1"),
            holder=self.user,
            status=StatusReference(idx, STATUS_URI),
            issued_at_s=at_s,
        )

    def status_token(self, uri: str, *, at_s: int = T0_S) -> str:
        issuer = self.issuer(at_s)
        assert uri == STATUS_URI, uri
        return status_list_token(self.status, uri=uri, key=issuer.key, kid=issuer.kid, iat_s=at_s)


def make_home(tmp_path: Path) -> Home:
    keys = InstanceKeyStore(tmp_path / "keys", HOME)
    keys.rotate(at_ms=(T0_S - 3600) * 1000)
    return Home(keys)


def make_verifier(
    home: Home,
    *,
    policy: EligibilityPolicy | None = None,
    at_s: int = T0_S,
    issuer_keys: Mapping[str, Sequence[PublicKeyRecord]] | None = None,
) -> IdentityVerifier:
    """b.example's verifier, holding a.example's published key records as its keyring has them
    (``issuer_keys`` instead, when given)."""
    return IdentityVerifier(
        audience=DEST,
        issuer_keys={HOME: home.keys.records()} if issuer_keys is None else issuer_keys,
        status_lists=lambda uri: home.status_token(uri, at_s=at_s),
        nonces=NonceStore(ttl_s=300, max_entries=16),
        policy=policy or EligibilityPolicy(),
    )


def presentation(home: Home, verifier: IdentityVerifier, disclose: list[str], *, at_s: int = T0_S) -> tuple[str, str]:
    """(presentation text, nonce): ``disclose`` of a fresh credential for b.example's new nonce."""
    nonce = verifier.nonces.issue(now_s=at_s)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(at_s=at_s),
        disclose=disclose,
        audience=DEST,
        nonce=nonce,
        holder_key=home.user.signing_key,
        iat_s=at_s,
    )
    return shown.serialize(), nonce
