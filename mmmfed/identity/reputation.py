"""The reputation credential (IDIR-301/304/305; FGMV-43 9.4 step 3; issue 17 item 3): what an
issuer vouches about a user's conduct over a period, and the destination's rule on it.

The credential is a compact JWS (header ``{"typ": "reputation+jwt", "alg": "Ed25519", "kid": ...}``)
whose payload follows the schema this module publishes (:data:`SCHEMA`, also in
``docs/reputation-credential.md``)::

    {"iss": "did:web:a.example" | "did:key:z6Mk...", "sub": "did:web:a.example:users:<id>",
     "vct": RCT, "iat": s, "exp": s,
     "period": {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"},
     "sanctions": {"<kind>": n, ...}, "reports": {"<kind>": n, ...},
     "standing": "good" | "warned" | "restricted" | "suspended"}

Issuers: the home M-Instance (``did:web:<home>``, ``kid`` ``did:web:<home>#<key id>``, checked
with the home's published keys, rotated and revoked ones honoured), or a third party named by the
destination's manifesto policy ``identity.reputation.issuers`` (a comma-separated list of
``did:key`` DIDs; once negotiated it is part of the trust agreement the two M-Instances signed).
A did:key names its own public key, so no resolution is needed.

The credential travels inside the identity credential as the disclosable claim ``reputation``
(its compact form), so the user decides whether it leaves home, like any other claim.

The destination's rule (:class:`ReputationPolicy`, from manifesto policies
``identity.reputation.*``): ``required`` (``true``: a presentation must disclose one),
``refuse_standing`` (standings refused, default ``suspended``), ``max_sanctions`` (more in total
refuses), ``restrict_reports`` (more reports in total admits with restricted Rights),
``max_age_days`` (a period that ended longer ago refuses). The outcome is ``admit`` or
``restricted``; a refusal is PermissionDenied ``REPUTATION_INSUFFICIENT`` with metadata ``rule``
naming the rule (``required``, ``standing:<s>``, ``max_sanctions:<n>``, ``max_age_days:<n>``).
A credential that fails its checks is InvalidInput ``REPUTATION_INVALID`` (shape, schema, subject,
issuer not trusted, signature) or FailedPrecondition ``REPUTATION_EXPIRED``.
Times are Unix seconds, passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mmmfed.did import public_key_from_did_key
from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, PermissionDenied
from mmmfed.identity.jose import read_jws, sign_jws
from mmmfed.proofs import SigningKey

REPUTATION_TYP = "reputation+jwt"
RCT = "https://mmmfed.dev/vct/reputation/v1"
REPUTATION_CLAIM = "reputation"
REPUTATION_INVALID = "REPUTATION_INVALID"
REPUTATION_EXPIRED = "REPUTATION_EXPIRED"
REPUTATION_INSUFFICIENT = "REPUTATION_INSUFFICIENT"
STANDINGS = ("good", "warned", "restricted", "suspended")
MAX_KINDS = 32
MAX_COUNT = 1_000_000
ADMIT, RESTRICTED = "admit", "restricted"

_COUNTS: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_KINDS,
    "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,31}$"},
    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
}
_DATE: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://mmmfed.dev/schemas/v1/reputation-credential.json",
    "title": "mmmfed reputation credential (payload of a reputation+jwt)",
    "type": "object",
    "required": ["iss", "sub", "vct", "iat", "exp", "period", "sanctions", "reports", "standing"],
    "additionalProperties": False,
    "properties": {
        "iss": {"type": "string", "pattern": "^did:(web|key):[A-Za-z0-9.:%_-]{1,200}$"},
        "sub": {"type": "string", "pattern": "^did:web:[A-Za-z0-9.:%_-]{1,200}$"},
        "vct": {"const": RCT},
        "iat": {"type": "integer", "minimum": 0},
        "exp": {"type": "integer", "minimum": 0},
        "period": {
            "type": "object",
            "required": ["from", "to"],
            "additionalProperties": False,
            "properties": {"from": _DATE, "to": _DATE},
        },
        "sanctions": _COUNTS,
        "reports": _COUNTS,
        "standing": {"enum": list(STANDINGS)},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Reputation:
    """A reputation credential's payload, checked against :data:`SCHEMA` (module docstring)."""

    issuer: str
    subject: str
    period_from: dt.date
    period_to: dt.date
    sanctions: Mapping[str, int]
    reports: Mapping[str, int]
    standing: str
    issued_at_s: int
    expires_s: int

    @property
    def sanction_total(self) -> int:
        return sum(self.sanctions.values())

    @property
    def report_total(self) -> int:
        return sum(self.reports.values())

    def to_json(self) -> dict[str, Any]:
        """The payload as the credential carries it."""
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "vct": RCT,
            "iat": self.issued_at_s,
            "exp": self.expires_s,
            "period": {"from": self.period_from.isoformat(), "to": self.period_to.isoformat()},
            "sanctions": dict(self.sanctions),
            "reports": dict(self.reports),
            "standing": self.standing,
        }


def _checked(payload: Mapping[str, Any]) -> Reputation:
    """The :class:`Reputation` of ``payload``; InvalidInput ``REPUTATION_INVALID`` naming the field."""
    error = best_match(_VALIDATOR.iter_errors(dict(payload)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise InvalidInput(f"reputation credential field {where}: {error.message}", reason=REPUTATION_INVALID)
    try:
        start = dt.date.fromisoformat(payload["period"]["from"])
        end = dt.date.fromisoformat(payload["period"]["to"])
    except ValueError as err:
        raise InvalidInput(f"reputation period is not calendar dates: {err}", reason=REPUTATION_INVALID) from err
    if start > end:
        raise InvalidInput(f"reputation period starts {start} after it ends {end}", reason=REPUTATION_INVALID)
    if payload["exp"] <= payload["iat"]:
        raise InvalidInput("reputation exp must be after iat", reason=REPUTATION_INVALID)
    return Reputation(
        issuer=payload["iss"],
        subject=payload["sub"],
        period_from=start,
        period_to=end,
        sanctions=dict(payload["sanctions"]),
        reports=dict(payload["reports"]),
        standing=payload["standing"],
        issued_at_s=payload["iat"],
        expires_s=payload["exp"],
    )


def issue_reputation(reputation: Reputation, *, key: SigningKey, kid: str) -> str:
    """The compact reputation credential of ``reputation`` signed by ``key`` under ``kid``
    (``did:web:<home>#<key id>`` for the home, the did:key verification method for a third party).
    InvalidInput ``REPUTATION_INVALID`` if the payload breaks :data:`SCHEMA` or ``kid`` is not
    the issuer's."""
    payload = reputation.to_json()
    _checked(payload)
    if not kid.startswith(reputation.issuer + "#"):
        raise InvalidInput(f"kid {kid} is not a key of the issuer {reputation.issuer}", reason=REPUTATION_INVALID)
    return sign_jws({"typ": REPUTATION_TYP, "kid": kid}, payload, key)


def read_reputation(token: str) -> tuple[Reputation, str]:
    """``(reputation, kid)`` of ``token`` without checking its signature (for ``reputation show``);
    InvalidInput ``REPUTATION_INVALID``."""
    jws = read_jws(token, reason=REPUTATION_INVALID)
    if jws.header.get("typ") != REPUTATION_TYP:
        raise InvalidInput(f"reputation credential typ is not {REPUTATION_TYP}", reason=REPUTATION_INVALID)
    return _checked(jws.payload), str(jws.header.get("kid", ""))


def verify_reputation(
    token: str,
    *,
    subject: str,
    home_key: Callable[[str, int], bytes],
    home_issuer: str,
    third_parties: frozenset[str],
    now_s: int,
) -> Reputation:
    """Check ``token`` for ``subject`` (the verified identity's DID): shape and schema, subject,
    issuer (``home_issuer``, whose key ``home_key(kid, iat_s)`` gives or refuses with its own
    reason, or a did:key in ``third_parties``), signature, expiry. InvalidInput
    ``REPUTATION_INVALID``, FailedPrecondition ``REPUTATION_EXPIRED`` (module docstring)."""
    reputation, kid = read_reputation(token)
    if reputation.subject != subject:
        raise InvalidInput(
            f"the reputation credential is about {reputation.subject}, not {subject}", reason=REPUTATION_INVALID
        )
    if reputation.issuer == home_issuer:
        public_key = home_key(kid, reputation.issued_at_s)
    elif reputation.issuer in third_parties:
        if kid.split("#", 1)[0] != reputation.issuer:
            raise InvalidInput(f"kid {kid} is not a key of {reputation.issuer}", reason=REPUTATION_INVALID)
        try:
            public_key = public_key_from_did_key(reputation.issuer)
        except MmmfedError as err:
            raise InvalidInput(f"issuer {reputation.issuer}: {err.message}", reason=REPUTATION_INVALID) from err
    else:
        raise InvalidInput(
            f"reputation issuer {reputation.issuer} is neither the home nor a third party this M-Instance trusts"
            " (manifesto policy identity.reputation.issuers)",
            reason=REPUTATION_INVALID,
        )
    if not read_jws(token, reason=REPUTATION_INVALID).verify(public_key):
        raise InvalidInput("the reputation credential's signature does not verify", reason=REPUTATION_INVALID)
    if now_s >= reputation.expires_s:
        raise FailedPrecondition(
            f"the reputation credential expired at {reputation.expires_s}; ask its issuer for a new one",
            reason=REPUTATION_EXPIRED,
        )
    return reputation


def _policy_int(policies: Mapping[str, str], key: str) -> int | None:
    value = policies.get(key)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput(f"manifesto policy {key}={value!r} is not a whole number", reason="POLICY_INVALID")
    return int(value)


@dataclass(frozen=True)
class ReputationPolicy:
    """The destination's rule on reputation (module docstring); the default admits everyone."""

    required: bool = False
    refuse_standing: frozenset[str] = frozenset({"suspended"})
    max_sanctions: int | None = None
    restrict_reports: int | None = None
    max_age_days: int | None = None
    issuers: frozenset[str] = frozenset()

    PREFIX = "identity.reputation."

    @classmethod
    def of(cls, policies: Mapping[str, str]) -> ReputationPolicy:
        """The rule the manifesto ``policies`` publish; InvalidInput ``POLICY_INVALID`` naming a bad one."""
        p = cls.PREFIX
        required = policies.get(p + "required", "false")
        if required not in ("true", "false"):
            raise InvalidInput(
                f"manifesto policy {p}required={required!r} is not true or false", reason="POLICY_INVALID"
            )
        standings = frozenset(s for s in policies.get(p + "refuse_standing", "suspended").split(",") if s)
        unknown = standings - set(STANDINGS)
        if unknown:
            raise InvalidInput(
                f"manifesto policy {p}refuse_standing names {', '.join(sorted(unknown))}; standings are"
                f" {', '.join(STANDINGS)}",
                reason="POLICY_INVALID",
            )
        issuers = frozenset(i.strip() for i in policies.get(p + "issuers", "").split(",") if i.strip())
        for issuer in issuers:
            try:
                public_key_from_did_key(issuer)
            except MmmfedError as err:
                raise InvalidInput(
                    f"manifesto policy {p}issuers: {issuer} is not a did:key ({err.message})", reason="POLICY_INVALID"
                ) from err
        return cls(
            required=required == "true",
            refuse_standing=standings,
            max_sanctions=_policy_int(policies, p + "max_sanctions"),
            restrict_reports=_policy_int(policies, p + "restrict_reports"),
            max_age_days=_policy_int(policies, p + "max_age_days"),
            issuers=issuers,
        )

    def decide(self, reputation: Reputation | None, *, now_s: int) -> str:
        """:data:`ADMIT` or :data:`RESTRICTED` for a verified ``reputation`` (None: none disclosed);
        PermissionDenied ``REPUTATION_INSUFFICIENT`` with metadata ``rule`` otherwise."""
        if reputation is None:
            if self.required:
                _insufficient("required", "this M-Instance requires a reputation credential; disclose reputation")
            return ADMIT
        if reputation.standing in self.refuse_standing:
            _insufficient(f"standing:{reputation.standing}", f"this M-Instance refuses standing {reputation.standing}")
        if self.max_sanctions is not None and reputation.sanction_total > self.max_sanctions:
            _insufficient(
                f"max_sanctions:{self.max_sanctions}",
                f"{reputation.sanction_total} sanctions in the period; this M-Instance admits at most"
                f" {self.max_sanctions}",
            )
        if self.max_age_days is not None:
            today = dt.datetime.fromtimestamp(now_s, tz=dt.UTC).date()
            if (today - reputation.period_to).days > self.max_age_days:
                _insufficient(
                    f"max_age_days:{self.max_age_days}",
                    f"the reputation period ended {reputation.period_to}, more than {self.max_age_days} days ago",
                )
        if self.restrict_reports is not None and reputation.report_total > self.restrict_reports:
            return RESTRICTED
        return ADMIT


def _insufficient(rule: str, message: str) -> None:
    raise PermissionDenied(message, reason=REPUTATION_INSUFFICIENT, metadata={"rule": rule})
