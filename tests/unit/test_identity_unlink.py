"""Unlink requests, receipts of deletion and the destination's linked identities (IDIR-204;
issue 17 items 4-5), and the eligibility rules read from a manifesto (IDIR-303)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmmfed.errors import InvalidInput, NotFound, TooLarge
from mmmfed.identity.jose import public_jwk
from mmmfed.identity.linked import LinkedIdentities, linked_process_id
from mmmfed.identity.policy import policy_from_manifesto
from mmmfed.identity.receipts import check_unlink_request, deletion_receipt, unlink_request, verify_receipt
from mmmfed.proofs import SigningKey

A, B = "a.example", "b.example"
DID = f"did:web:{A}:users:alice"
NOW = 1_800_000_000


def test_idir_204_an_unlink_request_is_the_users_for_this_destination_and_fresh() -> None:
    user, other = SigningKey.generate(), SigningKey.generate()
    jwk = public_jwk(user.public_key_bytes)
    token = unlink_request(DID, destination=B, user_key=user, iat_s=NOW)
    check_unlink_request(token, did=DID, destination=B, holder_jwk=jwk, linked_at_s=NOW - 10, now_s=NOW)
    bad = [
        (unlink_request(DID, destination=B, user_key=other, iat_s=NOW), NOW - 10, NOW),  # not the user's key
        (unlink_request(DID, destination="c.example", user_key=user, iat_s=NOW), NOW - 10, NOW),
        (unlink_request(f"did:web:{A}:users:bob", destination=B, user_key=user, iat_s=NOW), NOW - 10, NOW),
        (token, NOW - 10, NOW + 301),  # stale
        (token, NOW + 5, NOW + 6),  # made before the link (a replay after re-linking)
        ("a.b.c", NOW - 10, NOW),
    ]
    for candidate, linked_at, now in bad:
        with pytest.raises(InvalidInput) as caught:
            check_unlink_request(candidate, did=DID, destination=B, holder_jwk=jwk, linked_at_s=linked_at, now_s=now)
        assert caught.value.reason == "UNLINK_REQUEST_INVALID"


def test_idir_204_a_receipt_verifies_with_the_destinations_key_only() -> None:
    b_key, forger = SigningKey.generate(), SigningKey.generate()
    kid = f"did:web:{B}#k-1"
    token = deletion_receipt(
        destination=B, home=A, did=DID, process_id="mmm://b.example/processes/user/linked-x",
        deleted_claims=["name", "age_over_18"], key=b_key, kid=kid, iat_s=NOW,
    )  # fmt: skip
    receipt = verify_receipt(token, destination=B, home=A, did=DID, key_of=lambda k, _iat: b_key.public_key_bytes)
    assert receipt.payload["deleted_claims"] == ["age_over_18", "name"] and receipt.iat_s == NOW
    for kwargs in (
        {"key_of": lambda k, _iat: forger.public_key_bytes},
        {"did": f"did:web:{A}:users:bob"},
        {"home": "c.example"},
        {"destination": "c.example"},
    ):
        args = {"destination": B, "home": A, "did": DID, "key_of": lambda k, _iat: b_key.public_key_bytes} | kwargs
        with pytest.raises(InvalidInput) as caught:
            verify_receipt(token, **args)  # type: ignore[arg-type]
        assert caught.value.reason == "RECEIPT_INVALID"


def test_fgmv43_9_4_step_4_the_same_did_is_the_same_process_and_unlink_deletes_the_claims(tmp_path: Path) -> None:
    linked = LinkedIdentities(tmp_path, B, max_per_home=2)
    jwk = public_jwk(SigningKey.generate().public_key_bytes)
    first, again = (
        linked.link(A, DID, claims=c, holder_jwk=jwk, now_s=NOW + i, expires_s=NOW + 99)
        for i, c in enumerate(({"name": "A"}, {"name": "A", "age_over_18": True}))
    )
    assert first[0].process_id == again[0].process_id == linked_process_id(B, DID)
    assert (first[1], again[1], again[0].linked_at_s) == (False, True, NOW)
    assert linked.get(A, DID).claims == {"name": "A", "age_over_18": True}  # type: ignore[union-attr]
    linked.link(A, f"{DID}2", claims={}, holder_jwk=jwk, now_s=NOW, expires_s=NOW + 99)
    with pytest.raises(TooLarge):
        linked.link(A, f"{DID}3", claims={}, holder_jwk=jwk, now_s=NOW, expires_s=NOW + 99)
    assert linked.unlink(A, DID).claims == {"name": "A", "age_over_18": True}
    assert linked.get(A, DID) is None and "age_over_18" not in "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    with pytest.raises(NotFound):
        linked.unlink(A, DID)


def test_idir_303_eligibility_rules_come_from_the_manifesto_policies() -> None:
    policy = policy_from_manifesto({"identity.min_age": "18", "identity.required_claims": "name, languages"})
    assert (policy.min_age, policy.required_claims) == (18, ("name", "languages"))
    assert policy_from_manifesto({}).min_age is None
    for bad in ("adult", "17"):
        with pytest.raises(InvalidInput) as caught:
            policy_from_manifesto({"identity.min_age": bad})
        assert caught.value.reason == "POLICY_INVALID"


async def test_rfc9901_7_3_a_nonce_is_bound_to_the_peer_it_was_given_to(tmp_path: Path) -> None:
    """b's gateway gives a.example a nonce: it is in a.example's store only, so a presentation
    carrying it from another peer is NONCE_UNKNOWN there, and a.example may use it once."""
    from gateway.identity_import import IdentityImport

    importer = IdentityImport(
        B, None, None, None,  # type: ignore[arg-type]
        keys=None, fetch_keys=None, linked=LinkedIdentities(tmp_path, B), audit=None,  # type: ignore[arg-type]
        clock=lambda: NOW,
    )  # fmt: skip
    given = await importer.nonce(A)
    assert (given.audience, given.expires_s) == (B, NOW + 300)
    with pytest.raises(InvalidInput) as caught:
        await importer.nonces.consume("c.example", given.nonce, now_s=NOW + 1)
    assert caught.value.reason == "NONCE_UNKNOWN"
    await importer.nonces.consume(A, given.nonce, now_s=NOW + 1)
    with pytest.raises(InvalidInput) as caught:
        await importer.nonces.consume(A, given.nonce, now_s=NOW + 2)
    assert caught.value.reason == "PRESENTATION_REPLAYED"
