"""RFC 8785 JSON Canonicalization Scheme in mmmfed.proofs: the Appendix B and ES6 number samples,
NaN and Infinity refused, and the cyberphone/json-canonicalization reference files."""

from __future__ import annotations

import json
import struct

import pytest
import rfc8785
from proof_vectors import JCS

from mmmfed.errors import InvalidInput
from mmmfed.proofs import canonicalize

# ----------------------------------------------------------------------------- RFC 8785


@pytest.mark.parametrize(("bits", "expected"), [(b, e) for b, e, _ in JCS["appendix_b"]] + JCS["es6_samples"])
def test_rfc8785_number_samples(bits: str, expected: str) -> None:
    """RFC 8785 Appendix B / cyberphone ES6 samples: binary64 values serialise as ECMAScript does."""
    value = struct.unpack(">d", bytes.fromhex(bits.rjust(16, "0")))[0]
    assert rfc8785.dumps(value) == expected.encode()
    assert canonicalize([value]) == b"[" + expected.encode() + b"]"


@pytest.mark.parametrize(("bits", "name"), JCS["invalid"])
def test_rfc8785_refuses_nan_and_infinity(bits: str, name: str) -> None:
    """NaN and Infinity are not JSON: canonicalize raises InvalidInput NOT_CANONICALIZABLE."""
    with pytest.raises(InvalidInput) as err:
        canonicalize({"v": struct.unpack(">d", bytes.fromhex(bits))[0]})
    assert err.value.reason == "NOT_CANONICALIZABLE"


@pytest.mark.parametrize("name", sorted(JCS["files"]))
def test_rfc8785_reference_files(name: str) -> None:
    """cyberphone testdata: each input file canonicalises to its output file, byte for byte."""
    case = JCS["files"][name]
    assert canonicalize(json.loads(case["input"])) == case["output"].encode("utf-8")
