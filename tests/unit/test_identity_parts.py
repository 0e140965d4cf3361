"""The building blocks of the portable identity (issue 17; FGMV-43 9.4 steps 1-3): user DIDs and
keys (IDIR-101/103/202), derived ages, SD-JWT disclosures, the Token Status List (with the
draft's own examples) and the nonce store's bounds."""

from __future__ import annotations

import datetime as dt
import json
import stat
import zlib
from pathlib import Path

import pytest
from identity_helpers import ADULT, HOME, T0_S, make_home, make_verifier, presentation

from mmmfed.did_document import instance_did_document
from mmmfed.errors import InvalidInput, TooLarge
from mmmfed.identity.claims import age_claims, parse_birthdate
from mmmfed.identity.credential import SD_JWT_VC_TYP, VCT
from mmmfed.identity.jose import b64url_decode, b64url_encode, json_bytes, public_jwk, public_key_from_jwk, read_jws
from mmmfed.identity.jwks import instance_jwk_set
from mmmfed.identity.nonces import NonceStore
from mmmfed.identity.published_keys import load_published_keys
from mmmfed.identity.sdjwt import disclosed_claims, make_disclosure, parse_disclosure, parse_sd_jwt
from mmmfed.identity.status_list import INVALID, VALID, StatusList, read_status_list_token, status_list_token
from mmmfed.identity.user_did import UserKey, did_web_url, user_did, user_did_document, user_did_of_process
from mmmfed.identity.verifier import IdentityVerifier
from mmmfed.keyfile import load_public_key_file, load_signing_key


# -- user DIDs and keys (FGMV-43 9.4 step 1, IDIR-101/103/202) ---------------------------------
def test_idir101_user_did_and_where_it_resolves() -> None:
    did = user_did_of_process("mmm://a.example/processes/user/u-42")
    assert did == "did:web:a.example:users:u-42"
    assert did_web_url(did) == "https://a.example/users/u-42/did.json"
    for bad in ("a:b", "", "..", "x" * 129, "sp ace"):
        with pytest.raises(InvalidInput) as info:
            user_did(HOME, bad)
        assert info.value.reason == "USER_ID_INVALID"


def test_idir202_user_did_document_names_the_users_key() -> None:
    key = UserKey.generate()
    doc = user_did_document("did:web:a.example:users:u1", key)
    method = doc["verificationMethod"][0]
    assert method["id"] == "did:web:a.example:users:u1#key-1" == doc["authentication"][0] == doc["assertionMethod"][0]
    assert method["publicKeyMultibase"].startswith("z6Mk")
    assert public_key_from_jwk(key.jwk) == key.public_key


def test_idir202_held_key_exports_as_key_files_and_brought_key_has_no_private_half(tmp_path: Path) -> None:
    key = UserKey.generate()
    did = user_did(HOME, "u1")
    private, public = key.export(tmp_path / "u1.pem", did=did, created="2027-01-15T08:00:00Z")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert load_signing_key(private).public_key_bytes == key.public_key
    assert load_public_key_file(public).id == f"{did}#key-1"
    own = UserKey.bring_own(key.jwk)
    assert own.signing_key is None and own.public_key == key.public_key
    with pytest.raises(InvalidInput) as info:
        own.export(tmp_path / "own.pem", did=did, created="2027-01-15T08:00:00Z")
    assert info.value.reason == "KEY_NOT_HELD"
    with pytest.raises(InvalidInput) as info:
        UserKey.bring_own({**key.jwk, "d": key.jwk["x"]})
    assert info.value.reason == "JWK_INVALID"


# -- ages derived at issue time (FGMV-43 9.4 step 1) ---------------------------------------------
@pytest.mark.parametrize(
    ("issued_on", "over_18"),
    [(dt.date(2026, 5, 16), False), (dt.date(2026, 5, 17), True), (dt.date(2030, 1, 1), True)],
)
def test_fgmv43_9_4_step1_age_over_18_turns_true_on_the_birthday(issued_on: dt.date, over_18: bool) -> None:
    assert age_claims(dt.date(2008, 5, 17), issued_on)["age_over_18"] is over_18


def test_fgmv43_9_4_step1_leap_day_birthday_and_bad_birthdates() -> None:
    leap = dt.date(2008, 2, 29)
    assert age_claims(leap, dt.date(2026, 2, 28))["age_over_18"] is False
    assert age_claims(leap, dt.date(2026, 3, 1)) == {
        "age_over_13": True,
        "age_over_16": True,
        "age_over_18": True,
        "age_over_21": False,
    }
    for bad in ("2026-02-30", "17/05/1990", "1990-5-17"):
        with pytest.raises(InvalidInput) as info:
            parse_birthdate(bad)
        assert info.value.reason == "BIRTHDATE_INVALID"
    with pytest.raises(InvalidInput):
        age_claims(dt.date(2030, 1, 1), dt.date(2029, 12, 31))


# -- the credential (FGMV-43 9.4 step 1) ---------------------------------------------------------
def test_fgmv43_9_4_step1_every_profile_claim_is_its_own_disclosure(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    issued = home.issue()
    jwt = read_jws(issued.issuer_jwt, reason="X")
    assert jwt.header["typ"] == SD_JWT_VC_TYP and jwt.header["kid"].startswith("did:web:a.example#k-")
    assert jwt.payload["vct"] == VCT and jwt.payload["cnf"]["jwk"] == home.user.jwk
    assert jwt.payload["status"] == {"status_list": {"idx": 7, "uri": "https://a.example/status/identity/1"}}
    names = {parse_disclosure(d).name for d in issued.disclosures}
    assert names == set(ADULT.claims(issued_on=dt.date(2027, 1, 15)))
    assert not names & set(jwt.payload), "a profile claim is also plain in the issuer JWT"
    assert disclosed_claims(jwt.payload, issued.disclosures)["birthdate"] == "1990-05-17"
    assert parse_sd_jwt(issued.serialize()) == issued


def test_rfc9901_disclosure_encoding_and_reserved_names() -> None:
    d = make_disclosure("name", "Ada", salt=b"\x00" * 16)
    assert parse_disclosure(d.encoded) == d
    with pytest.raises(InvalidInput):
        make_disclosure("_sd", [])
    for bad in (b64url_encode(json_bytes(["s", "_sd", 1])), b64url_encode(b"[1,2]"), "!!"):
        with pytest.raises(InvalidInput) as info:
            parse_disclosure(bad)
        assert info.value.reason == "DISCLOSURE_MALFORMED"
    with pytest.raises(InvalidInput) as info:
        disclosed_claims({"_sd": [d.digest], "_sd_alg": "sha-256"}, [d.encoded, d.encoded])
    assert info.value.reason == "DISCLOSURE_TAMPERED"


# -- Token Status List (draft-ietf-oauth-status-list section 4.1 examples) ------------------------
def test_status_list_reads_the_drafts_examples() -> None:
    one = StatusList.from_json({"bits": 1, "lst": "eNrbuRgAAhcBXQ"})
    assert [one.get(i) for i in range(16)] == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    two = StatusList.from_json({"bits": 2, "lst": "eNo76fITAAPfAgc"})
    assert [two.get(i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_status_list_refuses_what_is_not_a_status_list() -> None:
    for bad in (
        {"bits": True, "lst": "eNrbuRgAAhcBXQ"},
        {"bits": 3, "lst": "eNrbuRgAAhcBXQ"},
        {"bits": 1, "lst": "AAAA"},
    ):
        with pytest.raises(InvalidInput) as info:
            StatusList.from_json(bad)
        assert info.value.reason == "STATUS_LIST_INVALID", bad
    bomb = b64url_encode(zlib.compress(bytes(2 << 20)))  # 2 MiB of zeros, a few KiB packed
    with pytest.raises(InvalidInput, match="larger"):
        StatusList.from_json({"bits": 1, "lst": bomb})


def test_status_list_writes_the_drafts_example() -> None:
    status = StatusList(16)
    for idx, value in enumerate([1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]):
        status.set(idx, value)
    assert status.to_json() == {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}
    with pytest.raises(InvalidInput) as info:
        status.get(16)
    assert info.value.reason == "STATUS_INDEX_INVALID"


def test_status_list_token_round_trip_and_refusals(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    home.status.revoke(3)
    uri = "https://a.example/status/identity/1"
    token = home.status_token(uri)
    issuer = home.issuer()
    assert read_jws(token, reason="X").header["typ"] == "statuslist+jwt"

    def key_for(kid: str, iat_s: int) -> bytes:
        assert kid == issuer.kid
        return issuer.record.public_key

    listed = read_status_list_token(token, uri=uri, issuer_key=key_for, now_s=T0_S)
    assert (listed.get(3), listed.get(4)) == (INVALID, VALID)
    for wrong in ({"uri": "https://a.example/status/other"}, {"issuer_key": lambda kid, iat: bytes(32)}):
        kwargs = {"uri": uri, "issuer_key": key_for, "now_s": T0_S, **wrong}
        with pytest.raises(InvalidInput) as info:
            read_status_list_token(token, **kwargs)  # type: ignore[arg-type]
        assert info.value.reason == "STATUS_LIST_INVALID"
    expiring = status_list_token(home.status, uri=uri, key=issuer.key, kid=issuer.kid, iat_s=T0_S, exp_s=T0_S + 10)
    with pytest.raises(InvalidInput, match="expired"):
        read_status_list_token(expiring, uri=uri, issuer_key=key_for, now_s=T0_S + 10)
    assert json.loads(json.dumps(home.status.to_json()))["bits"] == 1


# -- the nonce store's bounds --------------------------------------------------------------------
def test_nonce_store_is_bounded_refuses_replay_and_forgets_after_expiry() -> None:
    store = NonceStore(ttl_s=10, max_entries=2)
    first, second = store.issue(now_s=0), store.issue(now_s=1)
    with pytest.raises(TooLarge) as full:
        store.issue(now_s=2)
    assert full.value.reason == "NONCE_STORE_FULL"  # never evicts an unexpired nonce
    store.consume(first, now_s=3)
    with pytest.raises(InvalidInput) as replay:
        store.consume(first, now_s=4)
    assert replay.value.reason == "PRESENTATION_REPLAYED"
    store.issue(now_s=10)  # first expired at 10: room again
    assert len(store) == 2
    with pytest.raises(InvalidInput) as gone:
        store.consume(second, now_s=11)
    assert gone.value.reason == "NONCE_UNKNOWN"


# -- the issuer's keys as a JWK Set (keys export) -----------------------------------------------
def test_jwk_set_keeps_rotated_keys_and_leaves_out_compromised_ones(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    first = home.keys.records()[0]
    second = home.keys.rotate(at_ms=(T0_S + 10) * 1000)
    third = home.keys.rotate(at_ms=(T0_S + 20) * 1000)
    home.keys.revoke(second.key_id, at_ms=(T0_S + 30) * 1000)
    keys = instance_jwk_set(HOME, home.keys.records())["keys"]
    assert [k["kid"] for k in keys] == [f"did:web:a.example#{first.key_id}", f"did:web:a.example#{third.key_id}"]
    assert keys[0] == {**public_jwk(first.public_key, kid=keys[0]["kid"]), "alg": "Ed25519", "use": "sig"}


def test_published_keys_from_a_did_document_keep_expiry_and_revocation(tmp_path: Path) -> None:
    """keys export's DID document read back for `identity verify --keys`: the rotated-out key ends
    when it ended, a superseded one still verifies before its revocation, a compromised one never."""
    home = make_home(tmp_path)
    first = home.keys.records()[0]
    second = home.keys.rotate(at_ms=(T0_S + 10) * 1000)
    third = home.keys.rotate(at_ms=(T0_S + 20) * 1000)
    home.keys.revoke(second.key_id, at_ms=(T0_S + 30) * 1000, reason="superseded")
    home.keys.revoke(third.key_id, at_ms=(T0_S + 40) * 1000)
    doc = tmp_path / "did.json"
    doc.write_text(json.dumps(instance_did_document(HOME, home.keys.records())))
    host, records = load_published_keys(doc)
    by_id = {r.key_id: r for r in records}
    assert host == HOME and list(by_id) == [first.key_id, second.key_id, third.key_id]
    assert by_id[first.key_id].usable_at(T0_S * 1000) is None
    assert by_id[first.key_id].usable_at((T0_S + 10) * 1000) == "KEY_NOT_VALID_AT_TIME"
    assert by_id[second.key_id].usable_at((T0_S + 15) * 1000, verified_at_ms=(T0_S + 99) * 1000) is None
    assert by_id[third.key_id].usable_at((T0_S + 25) * 1000, verified_at_ms=(T0_S + 99) * 1000) == "KEY_REVOKED"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(instance_jwk_set(HOME, home.keys.records())))
    assert [r.key_id for r in load_published_keys(jwks)[1]] == [first.key_id, second.key_id]
    (tmp_path / "bad.json").write_text('{"keys": [{"kid": "did:web:a.example#k", "kty": "EC"}]}')
    with pytest.raises(InvalidInput) as info:
        load_published_keys(tmp_path / "bad.json")
    assert info.value.reason == "KEY_FILE_INVALID" and "bad.json" in info.value.message


def test_nonce_remembered_out_of_order_still_expires() -> None:
    """A nonce issued elsewhere (identity verify --nonce) and remembered after a later one still
    expires at its own time, though the oldest-first purge has not reached it."""
    store = NonceStore(ttl_s=10, max_entries=4)
    store.issue(now_s=5)  # expires at 15
    store.remember("given", issued_s=0)  # expires at 10, stored after the one above
    with pytest.raises(InvalidInput) as info:
        store.consume("given", now_s=12)
    assert info.value.reason == "NONCE_UNKNOWN"


def test_rfc9901_decoy_digests_hide_how_many_claims_there_are(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    issued = home.issue()
    digests = read_jws(issued.issuer_jwt, reason="X").payload["_sd"]
    real = {parse_disclosure(d).digest for d in issued.disclosures}
    assert real < set(digests) and 1 <= len(digests) - len(real) <= 4
    assert digests == sorted(digests)


def test_rfc4648_non_canonical_base64url_is_refused(tmp_path: Path) -> None:
    """'AB' and 'AA' both decode to b'\\x00' in lenient decoders: only 'AA' is accepted, so a
    KB-JWT signature cannot be re-spelled (its last character) and still verify."""
    assert b64url_decode("AA", reason="X") == b"\x00"
    with pytest.raises(InvalidInput, match="canonical"):
        b64url_decode("AB", reason="X")
    home = make_home(tmp_path)
    verifier = make_verifier(home)
    text, _ = presentation(home, verifier, ["name"])
    last = text[-1]
    sibling = B64URL_ALPHABET[B64URL_ALPHABET.index(last) ^ 1]  # same high bits, one unused bit flipped
    assert verifier_reason(verifier, text[:-1] + sibling) == "KB_JWT_MALFORMED"


B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def verifier_reason(verifier: IdentityVerifier, text: str) -> str:
    with pytest.raises(InvalidInput) as info:
        verifier.verify(text, now_s=T0_S)
    return info.value.reason
