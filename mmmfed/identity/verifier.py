"""Verifying an arriving identity at the destination (FGMV-43 9.4 step 3, IDVF; IDIR-303/306;
RFC 9901 section 7; draft-ietf-oauth-sd-jwt-vc section 3.4), in this order, each refusal with its
own reason:

1. shape: ``PRESENTATION_MALFORMED``, ``CREDENTIAL_MALFORMED`` (not ``typ`` ``dc+sd-jwt``, a
   missing ``iat``/``exp``/``cnf``/``status``), ``CREDENTIAL_TYPE_UNKNOWN`` (another ``vct``);
2. the issuer: ``ISSUER_UNKNOWN`` (``iss`` is no M-Instance whose keys we hold), then its key by
   ``kid`` (``did:web:<home>#<key id>``): ``ISSUER_KEY_UNKNOWN``; a key rotated out stays usable
   for what it signed while valid, a revoked one is refused (``ISSUER_KEY_REVOKED``,
   ``ISSUER_KEY_NOT_VALID``: :meth:`mmmfed.keys.PublicKeyRecord.usable_at` at ``iat``, checked now);
   then ``ISSUER_SIGNATURE_INVALID``; ``CREDENTIAL_NOT_YET_VALID`` (``iat`` or ``nbf`` more than
   :data:`CLOCK_SKEW_S` ahead), ``CREDENTIAL_EXPIRED`` at or after ``exp``;
3. the Disclosures: ``DISCLOSURE_TAMPERED`` (one the issuer did not sign), ``DISCLOSURE_MALFORMED``;
4. key binding: ``KB_JWT_MISSING``, ``KB_JWT_MALFORMED``, ``KB_SIGNATURE_INVALID`` (not the ``cnf``
   key), ``AUDIENCE_MISMATCH``, ``SD_HASH_MISMATCH`` (disclosures added or removed after signing),
   ``PRESENTATION_STALE`` (``iat`` older than the nonce ttl or ahead of the clock),
   ``NONCE_MISMATCH``, then the nonce store: ``NONCE_UNKNOWN``, ``PRESENTATION_REPLAYED``;
5. status (draft-ietf-oauth-status-list section 8): ``STATUS_LIST_INVALID``,
   ``CREDENTIAL_REVOKED``, ``CREDENTIAL_SUSPENDED``;
6. the destination's policy (:mod:`.policy`): ``ELIGIBILITY_AGE``, ``ELIGIBILITY_CLAIM_MISSING``;
7. reputation (:mod:`.reputation`, IDIR-301/304/305): the disclosed ``reputation`` credential
   (``REPUTATION_INVALID``, ``REPUTATION_EXPIRED``), then the destination's rule on it
   (``REPUTATION_INSUFFICIENT``), which admits or admits with restricted Rights.

Only when all pass is a :class:`VerifiedIdentity` returned, holding the disclosed claims and no
other profile claim (those not disclosed never arrived). Times are Unix seconds, passed in.
Error classes: InvalidInput for a defective presentation, FailedPrecondition for the
credential's or key's state, PermissionDenied for an unknown issuer and for the policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, PermissionDenied
from mmmfed.identity.credential import SD_JWT_VC_TYP, VCT
from mmmfed.identity.jose import Jws, public_key_from_jwk, read_jws
from mmmfed.identity.nonces import DEFAULT_TTL_S, NonceStore
from mmmfed.identity.policy import EligibilityPolicy
from mmmfed.identity.presentation import KB_JWT_TYP
from mmmfed.identity.reputation import REPUTATION_CLAIM, Reputation, ReputationPolicy, verify_reputation
from mmmfed.identity.sdjwt import CREDENTIAL_MALFORMED, SdJwt, disclosed_claims, parse_sd_jwt
from mmmfed.identity.status_list import INVALID, SUSPENDED, VALID, read_status_list_token
from mmmfed.keys import PublicKeyRecord, parse_did_web_method

PLAIN_CLAIMS = frozenset({"iss", "sub", "vct", "iat", "nbf", "exp", "cnf", "status"})
CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class VerifiedIdentity:
    """An admitted identity: who issued it, whose it is, exactly the claims disclosed, and the
    reputation rule's outcome (``admission``: ``admit`` or ``restricted``)."""

    issuer: str
    subject: str
    holder_jwk: dict[str, Any]
    disclosed: dict[str, Any]
    expires_s: int
    admission: str = "admit"
    reputation: Reputation | None = None


@dataclass(frozen=True)
class _Checked:
    """What steps 1-4 found: the credential's payload, its issuer, the claims and the nonce."""

    payload: Mapping[str, Any]
    issuer: str
    claims: dict[str, Any]
    expires_s: int
    nonce: str


@dataclass(frozen=True)
class IdentityVerifier:
    """The destination ``audience`` (its M-Instance id) and what it checks against.

    ``issuer_keys`` maps each M-Instance id whose users we admit to its published key records
    (as its key service gives them, rotated and revoked ones included); ``status_lists(uri)``
    returns the current Status List Token published at ``uri``."""

    audience: str
    issuer_keys: Mapping[str, Sequence[PublicKeyRecord]]
    status_lists: Callable[[str], str]
    nonces: NonceStore | None = None
    policy: EligibilityPolicy = field(default_factory=EligibilityPolicy)
    reputation: ReputationPolicy = field(default_factory=ReputationPolicy)
    nonce_ttl_s: int = DEFAULT_TTL_S

    @property
    def ttl_s(self) -> int:
        """How long a nonce lives (s): :attr:`nonces`'s, else :attr:`nonce_ttl_s`; a key binding
        JWT older than that is ``PRESENTATION_STALE``."""
        return self.nonces.ttl_s if self.nonces is not None else self.nonce_ttl_s

    def verify(self, presentation: str, *, now_s: int, expected_nonce: str | None = None) -> VerifiedIdentity:
        """Check ``presentation`` (module docstring for the order and reasons), its nonce in
        :attr:`nonces` (which must be set)."""
        checked = self._until_nonce(presentation, now_s=now_s, expected_nonce=expected_nonce)
        if self.nonces is None:
            raise InvalidInput("this verifier holds no nonces; use verify_with", reason="NONCE_UNKNOWN")
        self.nonces.consume(checked.nonce, now_s=now_s)
        return self._after_nonce(checked, now_s=now_s)

    async def verify_with(
        self,
        presentation: str,
        *,
        now_s: int,
        consume: Callable[[str], Awaitable[None]],
        expected_nonce: str | None = None,
    ) -> VerifiedIdentity:
        """:meth:`verify` with the nonce accepted by ``consume(nonce)`` (a store shared by gateway
        replicas, :class:`mmmfed.identity.nonces.PresentationNonces`; it raises
        ``NONCE_UNKNOWN`` / ``PRESENTATION_REPLAYED``), at the same step of the same order."""
        checked = self._until_nonce(presentation, now_s=now_s, expected_nonce=expected_nonce)
        await consume(checked.nonce)
        return self._after_nonce(checked, now_s=now_s)

    def _until_nonce(self, presentation: str, *, now_s: int, expected_nonce: str | None) -> _Checked:
        """Steps 1-4 of the module docstring but the nonce store."""
        sd_jwt = parse_sd_jwt(presentation)
        issuer_jwt = _read(sd_jwt.issuer_jwt, CREDENTIAL_MALFORMED)
        payload = issuer_jwt.payload
        if issuer_jwt.header.get("typ") != SD_JWT_VC_TYP:
            raise InvalidInput(f"credential typ is not {SD_JWT_VC_TYP}", reason=CREDENTIAL_MALFORMED)
        if payload.get("vct") != VCT:
            raise InvalidInput(f"credential type {payload.get('vct')!r} is not {VCT}", reason="CREDENTIAL_TYPE_UNKNOWN")
        iat, exp = _seconds(payload, "iat", CREDENTIAL_MALFORMED), _seconds(payload, "exp", CREDENTIAL_MALFORMED)
        issuer = self._issuer_of(payload)
        key = self._issuer_key(issuer, issuer_jwt.header.get("kid"), iat_s=iat, now_s=now_s)
        if not issuer_jwt.verify(key):
            raise InvalidInput("the issuer's signature does not verify", reason="ISSUER_SIGNATURE_INVALID")
        nbf = _seconds(payload, "nbf", CREDENTIAL_MALFORMED) if "nbf" in payload else iat
        not_before = max(iat, nbf)
        if not_before > now_s + CLOCK_SKEW_S:
            raise FailedPrecondition(
                f"the credential is valid only from {not_before}; check this M-Instance's clock",
                reason="CREDENTIAL_NOT_YET_VALID",
            )
        if now_s >= exp:
            raise FailedPrecondition(
                f"the credential expired at {exp}; ask the home to re-issue it", reason="CREDENTIAL_EXPIRED"
            )
        claims = disclosed_claims(payload, sd_jwt.disclosures)
        nonce = self._check_key_binding(sd_jwt, payload, now_s=now_s, expected_nonce=expected_nonce)
        return _Checked(payload=payload, issuer=issuer, claims=claims, expires_s=exp, nonce=nonce)

    def _after_nonce(self, checked: _Checked, *, now_s: int) -> VerifiedIdentity:
        """Steps 5-7 of the module docstring."""
        payload = checked.payload
        self._check_status(checked.issuer, payload, now_s=now_s)
        disclosed = {k: v for k, v in checked.claims.items() if k not in PLAIN_CLAIMS}
        self.policy.check(disclosed)
        subject = str(payload.get("sub", ""))
        reputation = self._check_reputation(checked.issuer, subject, disclosed.get(REPUTATION_CLAIM), now_s=now_s)
        return VerifiedIdentity(
            issuer=payload["iss"],
            subject=subject,
            holder_jwk=dict(payload["cnf"]["jwk"]),
            disclosed=disclosed,
            expires_s=checked.expires_s,
            admission=self.reputation.decide(reputation, now_s=now_s),
            reputation=reputation,
        )

    def _check_reputation(self, issuer: str, subject: str, token: object, *, now_s: int) -> Reputation | None:
        if token is None:
            return None
        if not isinstance(token, str):
            raise InvalidInput("the disclosed reputation is not a compact credential", reason="REPUTATION_INVALID")

        def home_key(kid: str, iat_s: int) -> bytes:
            return self._issuer_key(issuer, kid, iat_s=iat_s, now_s=now_s)

        return verify_reputation(
            token,
            subject=subject,
            home_key=home_key,
            home_issuer=f"did:web:{issuer}",
            third_parties=self.reputation.issuers,
            now_s=now_s,
        )

    # -- the issuer -------------------------------------------------------------------------
    def _issuer_of(self, payload: Mapping[str, Any]) -> str:
        iss = payload.get("iss")
        host = iss.removeprefix("did:web:") if isinstance(iss, str) and iss.startswith("did:web:") else None
        if host is None or host not in self.issuer_keys:
            raise PermissionDenied(
                f"issuer {iss!r} is not an M-Instance this one federates with", reason="ISSUER_UNKNOWN"
            )
        return host

    def _issuer_key(self, issuer: str, kid: object, *, iat_s: int, now_s: int) -> bytes:
        try:
            host, key_id = parse_did_web_method(str(kid))
        except MmmfedError as err:
            raise InvalidInput(f"kid {kid!r} is not a did:web key: {err.message}", reason="ISSUER_KEY_UNKNOWN") from err
        record = next((r for r in self.issuer_keys[issuer] if r.key_id == key_id), None)
        if host != issuer or record is None:
            raise InvalidInput(f"{issuer} has published no key {kid!r}", reason="ISSUER_KEY_UNKNOWN")
        refusal = record.usable_at(iat_s * 1000, verified_at_ms=now_s * 1000)
        if refusal == "KEY_REVOKED":
            raise FailedPrecondition(f"{kid} is {record.describe_revocation()}", reason="ISSUER_KEY_REVOKED")
        if refusal is not None:
            raise FailedPrecondition(
                f"{kid} was not valid at the credential's iat {iat_s}", reason="ISSUER_KEY_NOT_VALID"
            )
        return record.public_key

    # -- key binding ------------------------------------------------------------------------
    def _check_key_binding(
        self, sd_jwt: SdJwt, payload: Mapping[str, Any], *, now_s: int, expected_nonce: str | None
    ) -> str:
        """Step 4 but the nonce store; returns the KB-JWT's nonce."""
        if sd_jwt.kb_jwt is None:
            raise InvalidInput("the presentation has no key binding JWT", reason="KB_JWT_MISSING")
        kb = _read(sd_jwt.kb_jwt, "KB_JWT_MALFORMED")
        if kb.header.get("typ") != KB_JWT_TYP:
            raise InvalidInput(f"key binding JWT typ is not {KB_JWT_TYP}", reason="KB_JWT_MALFORMED")
        cnf = payload.get("cnf")
        try:
            holder_key = public_key_from_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None)
        except MmmfedError as err:
            raise InvalidInput(f"credential cnf: {err.message}", reason=CREDENTIAL_MALFORMED) from err
        if not kb.verify(holder_key):
            raise InvalidInput(
                "the key binding JWT is not signed by the credential's holder", reason="KB_SIGNATURE_INVALID"
            )
        if kb.payload.get("aud") != self.audience:
            raise InvalidInput(
                f"the presentation is addressed to {kb.payload.get('aud')!r}, not {self.audience}",
                reason="AUDIENCE_MISMATCH",
            )
        if kb.payload.get("sd_hash") != sd_jwt.sd_hash:
            raise InvalidInput("sd_hash does not match the disclosures sent", reason="SD_HASH_MISMATCH")
        iat = _seconds(kb.payload, "iat", "KB_JWT_MALFORMED")
        if iat > now_s + CLOCK_SKEW_S or iat <= now_s - self.ttl_s:
            raise InvalidInput(
                f"the presentation was made at {iat}, outside the accepted window", reason="PRESENTATION_STALE"
            )
        nonce = kb.payload.get("nonce")
        if not isinstance(nonce, str) or (expected_nonce is not None and nonce != expected_nonce):
            raise InvalidInput("the presentation's nonce is not the one this M-Instance gave", reason="NONCE_MISMATCH")
        return nonce

    # -- status -----------------------------------------------------------------------------
    def _check_status(self, issuer: str, payload: Mapping[str, Any], *, now_s: int) -> None:
        status = payload.get("status")
        ref = status.get("status_list") if isinstance(status, dict) else None
        if not isinstance(ref, dict) or not isinstance(ref.get("idx"), int) or not isinstance(ref.get("uri"), str):
            raise InvalidInput('credential has no "status": {"status_list": {idx, uri}}', reason=CREDENTIAL_MALFORMED)

        def key_for(kid: str, iat_s: int) -> bytes:
            return self._issuer_key(issuer, kid, iat_s=iat_s, now_s=now_s)

        listed = read_status_list_token(self.status_lists(ref["uri"]), uri=ref["uri"], issuer_key=key_for, now_s=now_s)
        value = listed.get(ref["idx"])
        if value == INVALID:
            raise FailedPrecondition("the home M-Instance has revoked this credential", reason="CREDENTIAL_REVOKED")
        if value == SUSPENDED:
            raise FailedPrecondition("the home M-Instance has suspended this credential", reason="CREDENTIAL_SUSPENDED")
        if value != VALID:
            raise FailedPrecondition(f"the credential's status is {value:#x}, not valid", reason="CREDENTIAL_REVOKED")


def _read(text: str, reason: str) -> Jws:
    return read_jws(text, reason=reason)


def _seconds(payload: Mapping[str, Any], name: str, reason: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer (Unix seconds)", reason=reason)
    return value
