"""Verifying every eddsa-jcs-2022 proof on a JSON document (DI-EDDSA 3.3.2, 3.3.7; proof sets and
chains, VC-DI 4.5). Never raises for anything a peer sends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mmmfed.did import multibase_decode
from mmmfed.errors import InvalidInput, MmmfedError
from mmmfed.proofs.ed25519 import ed25519_verify, resolve_did_key
from mmmfed.proofs.jcs import jcs_hash_data
from mmmfed.proofs.proofset import (
    CRYPTOSUITE,
    MAX_PROOFS,
    PROOF_TYPE,
    ProofFailure,
    is_date_time_stamp,
    matching_proofs,
    previous_ids,
    proof_list,
)
from mmmfed.proofs.reasons import (
    CRYPTOSUITE_UNSUPPORTED,
    DOCUMENT_MALFORMED,
    KEY_UNRESOLVED,
    NOT_CANONICALIZABLE,
    PREVIOUS_PROOF_INVALID,
    PROOF_CHAIN_CYCLE,
    PROOF_CONTEXT_MISMATCH,
    PROOF_MALFORMED,
    PROOF_MISSING,
    PROOF_PURPOSE_MISMATCH,
    SIGNATURE_INVALID,
    TOO_MANY_PROOFS,
    VERIFIED,
)


@dataclass(frozen=True)
class ProofCheck:
    """Outcome for one proof of a document: its position in ``proof``, its ``id`` and
    ``verificationMethod`` (None if absent or not strings), and ``VERIFIED`` or why not."""

    index: int
    proof_id: str | None
    verified: bool
    reason: str
    verification_method: str | None


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of :func:`verify_document`.

    ``verified`` is True only if every proof verified. ``reason`` is ``VERIFIED`` or the reason of
    the first failing proof (or a document-level reason: ``PROOF_MISSING``, ``PROOF_MALFORMED``,
    ``DOCUMENT_MALFORMED``, ``TOO_MANY_PROOFS``); ``verification_method`` is that proof's (the
    first proof's when all verified). ``proofs`` has one entry per proof, in document order.
    """

    verified: bool
    reason: str
    verification_method: str | None
    proofs: tuple[ProofCheck, ...] = ()

    @property
    def failed(self) -> tuple[ProofCheck, ...]:
        """The proofs that did not verify."""
        return tuple(p for p in self.proofs if not p.verified)


def verify_document(
    document: Mapping[str, Any],
    *,
    resolve_key: Callable[[str], bytes],
    expected_proof_purpose: str | None = None,
    max_proofs: int = MAX_PROOFS,
    plain_json: bool = False,
) -> VerificationResult:
    """Verify every eddsa-jcs-2022 proof on ``document`` (DI-EDDSA 3.3.2, VC-DI 4.5). Never raises
    for anything in ``document``.

    Args:
        document: the parsed JSON object, as received (see :mod:`mmmfed.strictjson`).
        resolve_key: verificationMethod URL -> 32-byte Ed25519 public key. It signals an unknown or
            unusable method by raising an :class:`~mmmfed.errors.MmmfedError` or a ``LookupError``
            (``KEY_UNRESOLVED``); other exceptions are bugs and propagate.
        expected_proof_purpose: if given, each proof's ``proofPurpose`` must equal it (VC-DI 4.4).
        max_proofs: more proofs than this give ``TOO_MANY_PROOFS`` without any work.
        plain_json: ``document`` is (part of) a value :func:`mmmfed.strictjson.parse_json_plain`
            reported plain (``Item.plain_json``): canonicalisation skips its type walk
            (:func:`mmmfed.proofs.canonicalize`). False for anything else.

    Per-proof reasons: ``VERIFIED``, ``PROOF_MALFORMED`` (a member missing or of the wrong type,
    ``created`` not a dateTimeStamp, ``proofValue`` not a 64-byte base58btc multibase value),
    ``CRYPTOSUITE_UNSUPPORTED``, ``PROOF_PURPOSE_MISMATCH``, ``PROOF_CONTEXT_MISMATCH``,
    ``PREVIOUS_PROOF_MISSING``, ``PREVIOUS_PROOF_INVALID``, ``PROOF_CHAIN_CYCLE``,
    ``NOT_CANONICALIZABLE``, ``KEY_UNRESOLVED``, ``SIGNATURE_INVALID``.
    """
    if not isinstance(document, Mapping):
        return VerificationResult(False, DOCUMENT_MALFORMED, None)
    if "proof" not in document or document["proof"] in ([], None):
        return VerificationResult(False, PROOF_MISSING, None)
    try:
        all_proofs = proof_list(document["proof"])
    except ProofFailure as failure:
        return VerificationResult(False, failure.reason, None)
    if len(all_proofs) > max_proofs:
        return VerificationResult(False, TOO_MANY_PROOFS, None)
    checks = [
        _check(i, document, all_proofs, resolve_key, expected_proof_purpose, plain_json) for i in range(len(all_proofs))
    ]
    checks = _apply_chains(checks, all_proofs)
    failed = [c for c in checks if not c.verified]
    first = failed[0] if failed else checks[0]
    return VerificationResult(not failed, first.reason, first.verification_method, tuple(checks))


def verify_document_did_key(
    document: Mapping[str, Any], *, expected_proof_purpose: str | None = None, max_proofs: int = MAX_PROOFS
) -> VerificationResult:
    """:func:`verify_document` resolving ``did:key:z...#z...`` methods itself; any other
    verificationMethod gives ``KEY_UNRESOLVED``."""
    return verify_document(
        document, resolve_key=resolve_did_key, expected_proof_purpose=expected_proof_purpose, max_proofs=max_proofs
    )


def _text(proof: Mapping[str, Any], name: str) -> str | None:
    value = proof.get(name)
    return value if isinstance(value, str) else None


def _check(
    index: int,
    document: Mapping[str, Any],
    all_proofs: Sequence[Mapping[str, Any]],
    resolve_key: Callable[[str], bytes],
    expected_proof_purpose: str | None,
    plain_json: bool,
) -> ProofCheck:
    proof = all_proofs[index]
    vm = _text(proof, "verificationMethod")
    try:
        _verify_one(proof, document, all_proofs, resolve_key, expected_proof_purpose, plain_json)
    except ProofFailure as failure:
        return ProofCheck(index, _text(proof, "id"), False, failure.reason, vm)
    return ProofCheck(index, _text(proof, "id"), True, VERIFIED, vm)


def _verify_one(
    proof: Mapping[str, Any],
    document: Mapping[str, Any],
    all_proofs: Sequence[Mapping[str, Any]],
    resolve_key: Callable[[str], bytes],
    expected_proof_purpose: str | None,
    plain_json: bool,
) -> None:
    """DI-EDDSA 3.3.2 for one proof; raises ProofFailure."""
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:  # 3.3.3 step 1, 3.3.5 step 2
        raise ProofFailure(CRYPTOSUITE_UNSUPPORTED)
    vm, purpose = _text(proof, "verificationMethod"), _text(proof, "proofPurpose")
    if not vm or not purpose or not isinstance(proof.get("proofValue"), str):  # VC-DI 4.4 step 4
        raise ProofFailure(PROOF_MALFORMED)
    if ("created" in proof and not is_date_time_stamp(proof["created"])) or (
        "id" in proof and not isinstance(proof["id"], str)
    ):
        raise ProofFailure(PROOF_MALFORMED)
    if expected_proof_purpose is not None and purpose != expected_proof_purpose:
        raise ProofFailure(PROOF_PURPOSE_MISMATCH)
    try:
        signature = multibase_decode(proof["proofValue"])  # step 3
    except InvalidInput:
        raise ProofFailure(PROOF_MALFORMED) from None
    if len(signature) != 64:
        raise ProofFailure(PROOF_MALFORMED)
    options = {k: v for k, v in proof.items() if k != "proofValue"}  # step 2
    unsecured = {k: v for k, v in document.items() if k != "proof"}  # step 1
    if "previousProof" in proof:  # VC-DI 4.5 steps 3.2-3.3
        unsecured["proof"] = matching_proofs(all_proofs, previous_ids(proof["previousProof"]))
    if "@context" in options:  # step 4
        if not _starts_with(document.get("@context"), options["@context"]):
            raise ProofFailure(PROOF_CONTEXT_MISMATCH)
        unsecured["@context"] = options["@context"]
    try:
        hash_data = jcs_hash_data(unsecured, options, plain_json=plain_json)  # steps 5-7
    except InvalidInput:
        raise ProofFailure(NOT_CANONICALIZABLE) from None
    try:
        public_key = resolve_key(vm)  # 3.3.7 step 1
    except (MmmfedError, LookupError):
        raise ProofFailure(KEY_UNRESOLVED) from None
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise ProofFailure(KEY_UNRESOLVED)
    if not ed25519_verify(public_key, hash_data, signature):  # 3.3.7 step 2
        raise ProofFailure(SIGNATURE_INVALID)


def _starts_with(document_context: object, proof_context: object) -> bool:
    """DI-EDDSA 3.3.2 step 4.1: the document's @context starts with the proof's values, in order
    (a single value counts as a one-element list; a missing document @context matches nothing)."""
    if document_context is None:
        return False
    doc = document_context if isinstance(document_context, list) else [document_context]
    mine = proof_context if isinstance(proof_context, list) else [proof_context]
    return len(mine) <= len(doc) and doc[: len(mine)] == mine


def _apply_chains(checks: list[ProofCheck], all_proofs: Sequence[Mapping[str, Any]]) -> list[ProofCheck]:
    """VC-DI 4.5: a verified proof stays verified only if every proof it names, transitively, is
    verified too; a loop of references gives ``PROOF_CHAIN_CYCLE``."""
    if not any("previousProof" in proof for proof in all_proofs):
        return checks  # no chain (a single proof, as on every Item a peer signs): nothing to walk
    named: list[list[int]] = []
    for proof in all_proofs:
        try:
            ids = previous_ids(proof["previousProof"]) if "previousProof" in proof else []
        except ProofFailure:
            ids = []  # that proof already failed as PROOF_MALFORMED
        named.append([j for j, other in enumerate(all_proofs) if ids and other.get("id") in ids])
    out = list(checks)
    for start, check in enumerate(checks):
        if check.verified and (reason := _chain_problem(start, named, checks)) is not None:
            out[start] = replace(check, verified=False, reason=reason)
    return out


def _chain_problem(start: int, named: list[list[int]], checks: list[ProofCheck]) -> str | None:
    """Depth-first walk of the proofs ``start`` names; iterative, with the current path for cycles."""
    path = {start}
    done: set[int] = set()
    stack = [(start, iter(named[start]))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            path.discard(node)
            done.add(node)
        elif child in path:
            return PROOF_CHAIN_CYCLE
        elif child not in done:
            if not checks[child].verified:
                return PREVIOUS_PROOF_INVALID
            path.add(child)
            stack.append((child, iter(named[child])))
    return None
