"""Properties of eddsa-jcs-2022 Data Integrity proofs in mmmfed.proofs (Hypothesis): a signed
document verifies, any change to it breaks the proof, and verify never raises on arbitrary or
damaged proofs."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from proof_vectors import ITEM, _signed

from mmmfed.proofs import canonicalize, verify_document_did_key

# ----------------------------------------------------------------------------- properties

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)
_KEYS = st.text(max_size=8).filter(lambda k: k not in ("proof", "@context"))
_DOCUMENTS = st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=6)


@given(document=_DOCUMENTS)
def test_signed_documents_verify(document: dict[str, Any]) -> None:
    """Any JSON object signed with sign_document verifies."""
    assert verify_document_did_key(_signed(document)).verified


@given(document=_DOCUMENTS, data=st.data())
def test_any_change_to_a_signed_document_breaks_it(document: dict[str, Any], data: st.DataObject) -> None:
    """Changing, adding or removing a member of a signed document makes verification fail."""
    signed = _signed(document)
    changed = copy.deepcopy(signed)
    action = data.draw(st.sampled_from(["change", "add", "remove"]))
    if action == "add":
        name = data.draw(_KEYS.filter(lambda k: k not in document))
        changed[name] = data.draw(_VALUES)
    else:
        name = data.draw(st.sampled_from(sorted(document)))
        if action == "remove":
            del changed[name]
        else:
            changed[name] = data.draw(_VALUES)
            assume(canonicalize(changed[name]) != canonicalize(document[name]))
    result = verify_document_did_key(changed)
    assert not result.verified and result.reason == "SIGNATURE_INVALID"


@given(proof=_VALUES)
def test_verify_never_raises_on_arbitrary_proofs(proof: Any) -> None:
    """Whatever JSON sits in `proof`, verify_document returns a result instead of raising."""
    result = verify_document_did_key({**ITEM, "proof": proof})
    assert result.verified is False and result.reason


_PROOF_FIELDS = ["id", "previousProof", "proofValue", "verificationMethod", "created", "@context", "proofPurpose"]


@given(replacements=st.dictionaries(st.sampled_from(_PROOF_FIELDS), _VALUES, max_size=4), extra=_VALUES)
def test_verify_never_raises_on_damaged_proofs(replacements: dict[str, Any], extra: Any) -> None:
    """A valid eddsa-jcs-2022 proof with members replaced by arbitrary JSON, alone or in a set with
    arbitrary neighbours, gives a result and never raises."""
    signed = _signed(proof_id="urn:p:1")
    damaged = {**signed["proof"], **replacements}
    for proof in (damaged, [signed["proof"], damaged], [damaged, extra]):
        result = verify_document_did_key({**ITEM, "proof": proof})
        assert isinstance(result.verified, bool) and result.reason
