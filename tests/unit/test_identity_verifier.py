"""The destination's verification of an arriving identity (FGMV-43 9.4 step 3, IDVF; IDIR-303,
IDIR-306; issue 17 item 3): exactly the chosen claims arrive, and each defect is refused with
its own reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from identity_helpers import DEST, HOME, MINOR, T0_S, Home, make_home, make_verifier, presentation

from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, PermissionDenied
from mmmfed.identity.jose import b64url_encode, json_bytes
from mmmfed.identity.policy import EligibilityPolicy
from mmmfed.identity.presentation import present
from mmmfed.identity.sdjwt import SdJwt, parse_disclosure, parse_sd_jwt
from mmmfed.identity.user_did import UserKey
from mmmfed.keys import InstanceKeyStore


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def refusal(error: type[MmmfedError], call: object) -> MmmfedError:
    assert callable(call)
    with pytest.raises(error) as info:
        call()
    return info.value


def decoded_parts(text: str) -> str:
    """Every base64url part of a presentation decoded and joined: what a verifier could read."""
    out = []
    for part in text.replace("~", ".").split("."):
        if part:
            out.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8", "replace"))
    return "\n".join(out)


def test_fgmv43_9_4_step3_only_the_chosen_claims_are_disclosed(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name", "age_over_18"])
    verified = verifier.verify(text, now_s=T0_S)
    assert verified.disclosed == {"name": "Ada", "age_over_18": True}
    assert (verified.issuer, verified.subject) == (f"did:web:{HOME}", f"did:web:{HOME}:users:u1")
    # The undisclosed claims never travelled: no value of theirs is anywhere in what was sent.
    readable = decoded_parts(text)
    for absent in ("1990-05-17", "reduced", "avatar-1", "hat-7", "r-3", "age_over_21", "languages", "birthdate"):
        assert absent not in readable, absent
    assert "Ada" in readable  # the check above can see a disclosed value


def test_fgmv43_9_4_step3_a_presentation_with_no_disclosure_carries_no_profile_claim(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, [])
    assert verifier.verify(text, now_s=T0_S).disclosed == {}


def test_idir306_tampered_disclosure_is_refused(home: Home) -> None:
    """A minor re-encodes their age_over_18 as true and signs a fresh KB-JWT: the digest is not the issuer's."""
    verifier = make_verifier(home, policy=EligibilityPolicy(min_age=18))
    issued = home.issue(MINOR)
    forged = []
    for encoded in issued.disclosures:
        d = parse_disclosure(encoded)
        forged.append(b64url_encode(json_bytes([d.salt, d.name, True])) if d.name == "age_over_18" else encoded)
    nonce = verifier.nonces.issue(now_s=T0_S)
    assert home.user.signing_key is not None
    shown = present(
        SdJwt(issued.issuer_jwt, tuple(forged)),
        disclose=["age_over_18"],
        audience=DEST,
        nonce=nonce,
        holder_key=home.user.signing_key,
        iat_s=T0_S,
    )
    err = refusal(InvalidInput, lambda: verifier.verify(shown.serialize(), now_s=T0_S))
    assert err.reason == "DISCLOSURE_TAMPERED"


def test_idir306_tampered_issuer_signature_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    _head, body, _sig = text.split("~")[0].split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["exp"] += 365 * 24 * 3600
    tampered = text.replace(body, b64url_encode(json_bytes(payload)), 1)
    assert refusal(InvalidInput, lambda: verifier.verify(tampered, now_s=T0_S)).reason == "ISSUER_SIGNATURE_INVALID"


def test_idir306_key_binding_by_another_key_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    text, nonce = presentation(home, verifier, ["name"])
    sd_jwt = parse_sd_jwt(text)
    thief = UserKey.generate()
    assert thief.signing_key is not None
    stolen = SdJwt(sd_jwt.issuer_jwt, sd_jwt.disclosures)
    with pytest.raises(InvalidInput) as info:
        present(stolen, disclose=["name"], audience=DEST, nonce=nonce, holder_key=thief.signing_key, iat_s=T0_S)
    assert info.value.reason == "HOLDER_KEY_MISMATCH"  # our own holder code will not do it ...
    kb_head, kb_body, _kb_sig = str(sd_jwt.kb_jwt).split(".")
    forged_sig = b64url_encode(thief.signing_key.sign(f"{kb_head}.{kb_body}".encode()))
    forged = SdJwt(sd_jwt.issuer_jwt, sd_jwt.disclosures, f"{kb_head}.{kb_body}.{forged_sig}").serialize()
    assert refusal(InvalidInput, lambda: verifier.verify(forged, now_s=T0_S)).reason == "KB_SIGNATURE_INVALID"


def test_idir306_replayed_presentation_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    verifier.verify(text, now_s=T0_S)
    assert refusal(InvalidInput, lambda: verifier.verify(text, now_s=T0_S + 1)).reason == "PRESENTATION_REPLAYED"


def test_idir306_presentation_to_another_destination_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    nonce = verifier.nonces.issue(now_s=T0_S)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(), disclose=["name"], audience="c.example", nonce=nonce, holder_key=home.user.signing_key, iat_s=T0_S
    )
    assert refusal(InvalidInput, lambda: verifier.verify(shown.serialize(), now_s=T0_S)).reason == "AUDIENCE_MISMATCH"


def test_idir306_nonce_not_issued_here_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(), disclose=["name"], audience=DEST, nonce="made-up", holder_key=home.user.signing_key, iat_s=T0_S
    )
    assert refusal(InvalidInput, lambda: verifier.verify(shown.serialize(), now_s=T0_S)).reason == "NONCE_UNKNOWN"
    text, nonce = presentation(home, verifier, ["name"])
    err = refusal(InvalidInput, lambda: verifier.verify(text, now_s=T0_S, expected_nonce=nonce + "x"))
    assert err.reason == "NONCE_MISMATCH"


def test_idir306_disclosure_dropped_after_key_binding_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name", "age_over_18"])
    sd_jwt = parse_sd_jwt(text)
    dropped = SdJwt(sd_jwt.issuer_jwt, sd_jwt.disclosures[:1], sd_jwt.kb_jwt).serialize()
    assert refusal(InvalidInput, lambda: verifier.verify(dropped, now_s=T0_S)).reason == "SD_HASH_MISMATCH"
    unbound = SdJwt(sd_jwt.issuer_jwt, sd_jwt.disclosures).serialize()
    assert refusal(InvalidInput, lambda: verifier.verify(unbound, now_s=T0_S)).reason == "KB_JWT_MISSING"


def test_idir306_stale_presentation_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    assert refusal(InvalidInput, lambda: verifier.verify(text, now_s=T0_S + 300)).reason == "PRESENTATION_STALE"


def test_idir306_revoked_credential_is_refused(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    home.status.revoke(7)
    assert refusal(FailedPrecondition, lambda: verifier.verify(text, now_s=T0_S)).reason == "CREDENTIAL_REVOKED"


def test_idir306_another_credentials_revocation_does_not_refuse(home: Home) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    home.status.revoke(6)
    home.status.revoke(8)
    assert verifier.verify(text, now_s=T0_S).disclosed == {"name": "Ada"}


def test_idir306_expired_credential_is_refused(home: Home) -> None:
    at = T0_S + 30 * 24 * 3600
    verifier = make_verifier(home, at_s=at)
    nonce = verifier.nonces.issue(now_s=at)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(), disclose=["name"], audience=DEST, nonce=nonce, holder_key=home.user.signing_key, iat_s=at
    )
    assert (
        refusal(FailedPrecondition, lambda: verifier.verify(shown.serialize(), now_s=at)).reason == "CREDENTIAL_EXPIRED"
    )


def test_idir306_rotated_out_key_still_verifies_what_it_signed(home: Home) -> None:
    issued_with_old = home.issue()
    home.keys.rotate(at_ms=(T0_S + 10) * 1000)
    verifier = make_verifier(home, at_s=T0_S + 20)  # the status list is now signed by the new key
    nonce = verifier.nonces.issue(now_s=T0_S + 20)
    assert home.user.signing_key is not None
    shown = present(
        issued_with_old,
        disclose=["name"],
        audience=DEST,
        nonce=nonce,
        holder_key=home.user.signing_key,
        iat_s=T0_S + 20,
    )
    assert verifier.verify(shown.serialize(), now_s=T0_S + 20).disclosed == {"name": "Ada"}


def test_idir306_revoked_issuer_key_is_refused(home: Home) -> None:
    issued = home.issue()
    old = home.keys.records()[0]
    home.keys.rotate(at_ms=(T0_S + 10) * 1000)
    home.keys.revoke(old.key_id, at_ms=(T0_S + 15) * 1000)  # compromised: nothing it signed verifies now
    verifier = make_verifier(home, at_s=T0_S + 20)
    nonce = verifier.nonces.issue(now_s=T0_S + 20)
    assert home.user.signing_key is not None
    shown = present(
        issued, disclose=["name"], audience=DEST, nonce=nonce, holder_key=home.user.signing_key, iat_s=T0_S + 20
    )
    err = refusal(FailedPrecondition, lambda: verifier.verify(shown.serialize(), now_s=T0_S + 20))
    assert err.reason == "ISSUER_KEY_REVOKED"


def test_idir306_unknown_issuer_key_and_unknown_issuer_are_refused(home: Home, tmp_path: Path) -> None:
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    other = InstanceKeyStore(tmp_path / "other", HOME)
    other.rotate(at_ms=(T0_S - 3600) * 1000)
    wrong_keys = make_verifier(home, issuer_keys={HOME: other.records()})
    assert refusal(InvalidInput, lambda: wrong_keys.verify(text, now_s=T0_S)).reason == "ISSUER_KEY_UNKNOWN"
    not_federated = make_verifier(home, issuer_keys={"c.example": other.records()})
    assert refusal(PermissionDenied, lambda: not_federated.verify(text, now_s=T0_S)).reason == "ISSUER_UNKNOWN"


def test_idir303_under_age_user_is_refused_naming_the_rule(home: Home) -> None:
    verifier = make_verifier(home, policy=EligibilityPolicy(min_age=18))
    nonce = verifier.nonces.issue(now_s=T0_S)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(MINOR),
        disclose=["age_over_18"],
        audience=DEST,
        nonce=nonce,
        holder_key=home.user.signing_key,
        iat_s=T0_S,
    )
    err = refusal(PermissionDenied, lambda: verifier.verify(shown.serialize(), now_s=T0_S))
    assert (err.reason, err.metadata["rule"]) == ("ELIGIBILITY_AGE", "age_over_18")
    assert "is false" in err.message


def test_idir303_age_not_disclosed_is_refused_and_adult_admitted(home: Home) -> None:
    verifier = make_verifier(home, policy=EligibilityPolicy(min_age=18, required_claims=("name",)))
    text, _ = presentation(home, verifier, ["name"])
    err = refusal(PermissionDenied, lambda: verifier.verify(text, now_s=T0_S))
    assert err.reason == "ELIGIBILITY_AGE" and "not disclosed" in err.message
    text, _ = presentation(home, verifier, ["age_over_18"])
    assert refusal(PermissionDenied, lambda: verifier.verify(text, now_s=T0_S)).reason == "ELIGIBILITY_CLAIM_MISSING"
    text, _ = presentation(home, verifier, ["name", "age_over_18"])
    assert verifier.verify(text, now_s=T0_S).disclosed == {"name": "Ada", "age_over_18": True}


def test_idir306_credential_from_the_future_is_refused(home: Home) -> None:
    """A credential whose iat is past the destination's clock (beyond the skew) is not yet valid."""
    verifier = make_verifier(home)
    nonce = verifier.nonces.issue(now_s=T0_S)
    assert home.user.signing_key is not None
    shown = present(
        home.issue(at_s=T0_S + 3600),
        disclose=["name"],
        audience=DEST,
        nonce=nonce,
        holder_key=home.user.signing_key,
        iat_s=T0_S,
    )
    err = refusal(FailedPrecondition, lambda: verifier.verify(shown.serialize(), now_s=T0_S))
    assert err.reason == "CREDENTIAL_NOT_YET_VALID"
