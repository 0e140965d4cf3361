"""The reputation credential and the destination's rule on it (IDIR-301/304/305; FGMV-43 9.4
step 3; issue 17 item 3): issued by the home or a third party the destination's manifesto names,
carried as the disclosable claim ``reputation``, and admitting, restricting or refusing
(``REPUTATION_INSUFFICIENT`` naming the rule)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from identity_helpers import ADULT, DEST, HOME, T0_S, Home, make_home, make_verifier

from mmmfed.errors import FailedPrecondition, InvalidInput, PermissionDenied
from mmmfed.identity.presentation import present
from mmmfed.identity.reputation import (
    ADMIT,
    RESTRICTED,
    SCHEMA,
    Reputation,
    ReputationPolicy,
    issue_reputation,
    read_reputation,
)
from mmmfed.identity.user_did import user_did
from mmmfed.identity.verifier import IdentityVerifier
from mmmfed.proofs import SigningKey

SUBJECT = user_did(HOME, "u1")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def record(issuer: str, **changes: object) -> Reputation:
    base = Reputation(
        issuer=issuer,
        subject=SUBJECT,
        period_from=dt.date(2026, 1, 1),
        period_to=dt.date(2026, 12, 31),
        sanctions={"mute": 1},
        reports={"harassment": 2, "spam": 1},
        standing="good",
        issued_at_s=T0_S - 60,
        expires_s=T0_S + 86400,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def home_token(home: Home, **changes: object) -> str:
    issuer = home.issuer()
    return issue_reputation(record(issuer.did, **changes), key=issuer.key, kid=issuer.kid)


def arrive(home: Home, verifier: IdentityVerifier, token: str | None, disclose: list[str]) -> object:
    """Verify at b.example a fresh credential carrying ``token``, presenting ``disclose``."""
    profile = dataclasses.replace(ADULT, reputation=token)
    nonce = verifier.nonces.issue(now_s=T0_S)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(profile), disclose=disclose, audience=DEST, nonce=nonce, holder_key=home.user.signing_key, iat_s=T0_S
    )
    return verifier.verify(shown.serialize(), now_s=T0_S)


def with_rule(home: Home, **policies: str) -> IdentityVerifier:
    rule = ReputationPolicy.of({ReputationPolicy.PREFIX + k: v for k, v in policies.items()})
    return dataclasses.replace(make_verifier(home), reputation=rule)


def test_idir301_schema_is_published_and_a_home_credential_reads_back(home: Home) -> None:
    print(SCHEMA)  # the schema we publish, for the record of this run
    reputation, kid = read_reputation(home_token(home))
    assert kid == home.issuer().kid
    assert (reputation.sanction_total, reputation.report_total, reputation.standing) == (1, 3, "good")


def test_idir304_home_reputation_admits_and_travels_only_when_disclosed(home: Home) -> None:
    verifier = with_rule(home, max_sanctions="2")
    admitted = arrive(home, verifier, home_token(home), ["name", "reputation"])
    assert admitted.admission == ADMIT  # type: ignore[attr-defined]
    assert admitted.reputation.standing == "good"  # type: ignore[attr-defined]
    not_shown = arrive(home, verifier, home_token(home), ["name"])
    assert not_shown.reputation is None and "reputation" not in not_shown.disclosed  # type: ignore[attr-defined]


def test_idir305_reports_over_the_threshold_admit_with_restricted_rights(home: Home) -> None:
    verifier = with_rule(home, restrict_reports="2")
    assert arrive(home, verifier, home_token(home), ["reputation"]).admission == RESTRICTED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policies", "changes", "rule"),
    [
        ({"max_sanctions": "0"}, {}, "max_sanctions:0"),
        ({}, {"standing": "suspended"}, "standing:suspended"),
        ({"refuse_standing": "restricted,suspended"}, {"standing": "restricted"}, "standing:restricted"),
        ({"max_age_days": "30"}, {"period_to": dt.date(2026, 6, 30)}, "max_age_days:30"),
    ],
)
def test_idir305_reputation_insufficient_names_its_rule(
    home: Home, policies: dict[str, str], changes: dict[str, object], rule: str
) -> None:
    verifier = with_rule(home, **policies)
    with pytest.raises(PermissionDenied) as info:
        arrive(home, verifier, home_token(home, **changes), ["reputation"])
    assert (info.value.reason, info.value.metadata["rule"]) == ("REPUTATION_INSUFFICIENT", rule)


def test_idir305_a_required_reputation_not_disclosed_is_refused(home: Home) -> None:
    verifier = with_rule(home, required="true")
    with pytest.raises(PermissionDenied) as info:
        arrive(home, verifier, home_token(home), ["name"])
    assert info.value.metadata["rule"] == "required"


def test_idir301_third_party_issuer_only_when_the_manifesto_names_it(home: Home) -> None:
    third = SigningKey.generate()
    token = issue_reputation(record(third.did), key=third, kid=third.verification_method)
    with pytest.raises(InvalidInput) as info:
        arrive(home, with_rule(home), token, ["reputation"])
    assert info.value.reason == "REPUTATION_INVALID" and "identity.reputation.issuers" in info.value.message
    admitted = arrive(home, with_rule(home, issuers=third.did), token, ["reputation"])
    assert admitted.reputation.issuer == third.did  # type: ignore[attr-defined]


def test_idir306_forged_expired_or_foreign_reputation_is_refused(home: Home) -> None:
    impostor = SigningKey.generate()
    issuer = home.issuer()
    # Signed by a key that is not the home's, under the home's kid.
    forged = issue_reputation(record(issuer.did), key=impostor, kid=issuer.kid)
    with pytest.raises(InvalidInput) as info:
        arrive(home, with_rule(home), forged, ["reputation"])
    assert info.value.reason == "REPUTATION_INVALID" and "signature" in info.value.message
    # About someone else.
    other = home_token(home, subject=user_did(HOME, "u2"))
    with pytest.raises(InvalidInput) as info:
        arrive(home, with_rule(home), other, ["reputation"])
    assert "about" in info.value.message
    # Expired.
    expired = home_token(home, issued_at_s=T0_S - 3000, expires_s=T0_S - 1)
    with pytest.raises(FailedPrecondition) as expired_info:
        arrive(home, with_rule(home), expired, ["reputation"])
    assert expired_info.value.reason == "REPUTATION_EXPIRED"


def test_idir301_a_credential_breaking_the_schema_is_not_issued(home: Home) -> None:
    issuer = home.issuer()
    for changes in ({"standing": "excellent"}, {"sanctions": {"Mute!": 1}}, {"reports": {"spam": -1}}):
        with pytest.raises(InvalidInput) as info:
            issue_reputation(record(issuer.did, **changes), key=issuer.key, kid=issuer.kid)
        assert info.value.reason == "REPUTATION_INVALID"
    with pytest.raises(InvalidInput):
        issue_reputation(record(issuer.did, period_from=dt.date(2027, 1, 1)), key=issuer.key, kid=issuer.kid)


def test_manifesto_reputation_policy_refuses_bad_rules() -> None:
    for bad in ({"required": "yes"}, {"refuse_standing": "bad"}, {"max_sanctions": "-1"}, {"issuers": "did:web:x"}):
        with pytest.raises(InvalidInput) as info:
            ReputationPolicy.of({ReputationPolicy.PREFIX + k: v for k, v in bad.items()})
        assert info.value.reason == "POLICY_INVALID"


def test_idir301_the_published_schema_is_the_one_checked() -> None:
    """docs/reputation-credential.md publishes exactly the schema the code checks against."""
    import json
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reputation-credential.md").read_text()
    block = re.search(r"```json\n(.*?)\n```", doc, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == SCHEMA
