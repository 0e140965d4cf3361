"""Proof sets and proof chains of eddsa-jcs-2022 Data Integrity proofs (W3C Data Integrity v1.0
previousProof) in mmmfed.proofs: every proof of a set verified and the failure named, a chained
proof covering the earlier one, chains over invalid proofs, reference cycles reported, and too many
proofs refused before any work."""

from __future__ import annotations

import copy
from typing import Any

from proof_vectors import ALICE, BRIDGE, ITEM, _signed

from mmmfed.proofs import ProofCheck, verify_document_did_key
from mmmfed.proofs.verify import _apply_chains

# ----------------------------------------------------------------------------- proof sets and chains


def test_proof_set_verifies_every_proof_and_names_the_failure() -> None:
    """Two independent proofs (a set) both verify; breaking one names it in the result."""
    both = _signed(_signed(), key=BRIDGE)
    assert isinstance(both["proof"], list) and len(both["proof"]) == 2
    result = verify_document_did_key(both)
    assert result.verified and [p.verified for p in result.proofs] == [True, True]

    broken = copy.deepcopy(both)
    broken["proof"][0]["created"] = "2020-01-01T00:00:00Z"
    result = verify_document_did_key(broken)
    assert not result.verified and result.reason == "SIGNATURE_INVALID"
    assert [(p.index, p.reason) for p in result.failed] == [(0, "SIGNATURE_INVALID")]
    assert result.verification_method == ALICE.verification_method
    assert result.proofs[1].verified and result.proofs[1].verification_method == BRIDGE.verification_method


def test_chained_proof_covers_the_earlier_proof() -> None:
    """A second signer's proof with previousProof covers the earlier proof: both verify; altering
    or removing the earlier proof breaks the chained proof too. (All proofs of a set or chain cover
    the same document: changing the content, as a conversion does, invalidates the earlier proof.)"""
    original = _signed(proof_id="urn:uuid:original")
    converted = {**original, "DescrMetadata": {"Name": "Godette", "Format": "glTF/2.0-binary"}}
    assert verify_document_did_key(converted).reason == "SIGNATURE_INVALID"
    chained = _signed(_signed(ITEM, proof_id="urn:uuid:original"), key=BRIDGE, previous_proof="urn:uuid:original")
    assert chained["proof"][1]["previousProof"] == "urn:uuid:original"
    assert verify_document_did_key(chained).verified

    tampered = copy.deepcopy(chained)
    tampered["proof"][0]["proofPurpose"] = "authentication"
    result = verify_document_did_key(tampered)
    assert [(p.index, p.reason) for p in result.failed] == [(0, "SIGNATURE_INVALID"), (1, "SIGNATURE_INVALID")]

    dropped = {**chained, "proof": [chained["proof"][1]]}
    assert verify_document_did_key(dropped).reason == "PREVIOUS_PROOF_MISSING"


def test_chain_over_an_invalid_proof_is_invalid() -> None:
    """A proof whose own signature is right but which chains to an invalid proof does not verify."""
    bad_original = _signed(proof_id="urn:uuid:original")
    bad_original["proof"]["proofValue"] = BRIDGE.sign(b"something else").hex()  # not even multibase
    chained = _signed(bad_original, key=BRIDGE, previous_proof=["urn:uuid:original"])
    result = verify_document_did_key(chained)
    assert [(p.index, p.reason) for p in result.proofs] == [(0, "PROOF_MALFORMED"), (1, "PREVIOUS_PROOF_INVALID")]


def test_chain_of_three_verifies() -> None:
    """A three-link chain (the last naming both earlier proofs) verifies; a proof made to name
    itself no longer verifies."""
    first = _signed(proof_id="urn:p:1")
    second = _signed(first, key=BRIDGE, proof_id="urn:p:2", previous_proof="urn:p:1")
    third = _signed(second, proof_id="urn:p:3", previous_proof=["urn:p:1", "urn:p:2"])
    assert verify_document_did_key(third).verified
    looped = copy.deepcopy(third)
    looped["proof"][0]["previousProof"] = "urn:p:1"
    result = verify_document_did_key(looped)
    assert not result.verified and result.proofs[0].reason == "SIGNATURE_INVALID"


def test_reference_cycles_are_reported_not_followed() -> None:
    """Chain checking stops at a loop of previousProof references with PROOF_CHAIN_CYCLE (a loop
    cannot be signed, so this drives the chain step directly)."""
    proofs: list[dict[str, Any]] = [{"id": "a", "previousProof": "b"}, {"id": "b", "previousProof": ["a"]}, {"id": "c"}]
    checks = [ProofCheck(i, p["id"], True, "VERIFIED", None) for i, p in enumerate(proofs)]
    assert [c.reason for c in _apply_chains(checks, proofs)] == ["PROOF_CHAIN_CYCLE", "PROOF_CHAIN_CYCLE", "VERIFIED"]


def test_too_many_proofs_are_refused_before_any_work() -> None:
    """More proofs than max_proofs gives TOO_MANY_PROOFS."""
    signed = _signed()
    many = {**ITEM, "proof": [signed["proof"]] * 17}
    assert verify_document_did_key(many).reason == "TOO_MANY_PROOFS"
    assert verify_document_did_key({**ITEM, "proof": [signed["proof"]] * 2}).verified
