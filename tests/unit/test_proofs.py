"""Proofs: strict Ed25519, did:key, RFC 8785 canonical JSON and eddsa-jcs-2022 Data Integrity proofs.

Published vectors (in tests/unit/vectors/, each file names its source):

* rfc8032_ed25519.json: RFC 8032 section 7.1, TEST 1, 2, 3 and SHA(abc).
* vc_di_eddsa_jcs_2022.json: W3C Data Integrity EdDSA Cryptosuites v1.0 (Recommendation, 15 May
  2025), Appendix B.3 "Representation: eddsa-jcs-2022", Examples 29-39; and
  github.com/w3c/vc-di-eddsa TestVectors/eddsa-jcs-2022/signedJCS.json.
* ed25519_edge_cases.json: the 12 cases of "Taming the many EdDSAs" (Chalkias, Garillot,
  Nikolaenko, 2020; github.com/novifinancial/ed25519-speccheck cases.txt and results.md) and a
  subset of C2SP/CCTV ed25519/ed25519vectors.json with its flags.
* rfc8785_jcs.json: RFC 8785 Appendix B number samples; cyberphone/json-canonicalization
  testdata (input -> output files, ES6 number sample lines).
"""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import assume, given
from hypothesis import strategies as st

from mmmfed.did import (
    BASE58BTC_ALPHABET,
    base58btc_decode,
    base58btc_encode,
    did_key,
    did_key_verification_method,
    multibase_decode,
    public_key_from_did_key,
    public_key_from_verification_method,
)
from mmmfed.errors import InvalidInput, NotFound
from mmmfed.proofs import (
    SMALL_ORDER_Y,
    L,
    P,
    ProofCheck,
    SigningKey,
    canonicalize,
    ed25519_verify,
    generate_key,
    jcs_hash_data,
    sign_document,
    verify_document,
    verify_document_did_key,
)
from mmmfed.proofs.verify import _apply_chains

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


RFC8032 = _load("rfc8032_ed25519.json")["vectors"]
W3C = _load("vc_di_eddsa_jcs_2022.json")
EDGE = _load("ed25519_edge_cases.json")
JCS = _load("rfc8785_jcs.json")

# Keys for the document tests: RFC 8032 TEST 1 and TEST 2 seeds.
ALICE = SigningKey.from_seed(bytes.fromhex(RFC8032[0]["secret_key"]))
BRIDGE = SigningKey.from_seed(bytes.fromhex(RFC8032[1]["secret_key"]))
CREATED = "2026-11-25T05:00:00Z"
ITEM = {
    "Header": "MMM-ITM-V2.2",
    "MInstanceID": "a.example",
    "ItemID": "mmm://a.example/items/1",
    "ItemData": {"Size": 1024, "Digest": {"Algorithm": "sha-256", "Value": "ab" * 32}},
    "DescrMetadata": {"Name": "Godette", "Scale": 1.5},
}


def _lenient_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- edwards25519 arithmetic for cross-checks only (RFC 8032 5.1.3 decoding without the y < p and
# x = -0 refusals, affine addition with a = -1), so non-canonical encodings decode too. ---
_D = -121665 * pow(121666, P - 2, P) % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)
_IDENTITY = (0, 1)


def _decode_any(encoding: bytes) -> tuple[int, int] | None:
    y = (int.from_bytes(encoding, "little") & ((1 << 255) - 1)) % P
    sign = encoding[31] >> 7
    u, v = (y * y - 1) % P, (_D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * _SQRT_M1 % P
    if v * x * x % P != u:
        return None
    if x != 0 and x % 2 != sign:
        x = P - x
    return (x, y)


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = _D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return (x3, y3)


def _mul(k: int, point: tuple[int, int]) -> tuple[int, int]:
    acc = _IDENTITY
    while k:
        if k & 1:
            acc = _add(acc, point)
        point = _add(point, point)
        k >>= 1
    return acc


# C2SP/CCTV ed25519/README.md, "Low-order edwards25519 point encodings" (all 14).
CCTV_LOW_ORDER_ENCODINGS = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]


# ----------------------------------------------------------------------------- Ed25519 (RFC 8032)


@pytest.mark.parametrize("vector", RFC8032, ids=[v["name"] for v in RFC8032])
def test_rfc8032_vectors_sign_and_verify(vector: dict[str, str]) -> None:
    """RFC 8032 7.1: the seed gives the public key and the exact signature, which verifies."""
    key = SigningKey.from_seed(bytes.fromhex(vector["secret_key"]))
    message, signature = bytes.fromhex(vector["message"]), bytes.fromhex(vector["signature"])
    assert key.public_key_bytes.hex() == vector["public_key"]
    assert key.sign(message) == signature
    assert ed25519_verify(key.public_key_bytes, message, signature)
    assert not ed25519_verify(key.public_key_bytes, message + b"\x00", signature)


def test_generate_key_gives_a_working_pair() -> None:
    """generate_key returns a 32-byte seed and the 32-byte public key that verifies its signatures."""
    seed, public = generate_key()
    assert len(seed) == 32 and len(public) == 32
    key = SigningKey.from_seed(seed)
    assert key.public_key_bytes == public and key.seed == seed
    assert ed25519_verify(public, b"m", key.sign(b"m"))
    assert "private_key" not in repr(key)


def test_signature_with_s_plus_l_is_refused() -> None:
    """A valid signature with S replaced by S + L (same value mod L) is refused (S >= L)."""
    vector = RFC8032[0]
    public, signature = bytes.fromhex(vector["public_key"]), bytes.fromhex(vector["signature"])
    s = int.from_bytes(signature[32:], "little")
    assert ed25519_verify(public, b"", signature)
    assert not ed25519_verify(public, b"", signature[:32] + (s + L).to_bytes(32, "little"))
    assert not ed25519_verify(public, b"", signature[:32] + L.to_bytes(32, "little"))
    assert not ed25519_verify(public, b"", signature[:32] + b"\xff" * 32)


@pytest.mark.parametrize("encoding", CCTV_LOW_ORDER_ENCODINGS)
@given(message=st.binary(max_size=64), signature=st.binary(min_size=64, max_size=64))
def test_small_order_public_keys_are_refused(encoding: str, message: bytes, signature: bytes) -> None:
    """Every encoding of a small-order point (canonical or not) as A fails, whatever the rest."""
    assert not ed25519_verify(bytes.fromhex(encoding), message, signature)


@pytest.mark.parametrize("encoding", CCTV_LOW_ORDER_ENCODINGS)
def test_small_order_r_is_refused(encoding: str) -> None:
    """Every encoding of a small-order point as R fails, with a good key and canonical S."""
    public = ALICE.public_key_bytes
    for s in (0, 1, L - 1):
        assert not ed25519_verify(public, b"msg", bytes.fromhex(encoding) + s.to_bytes(32, "little"))


def test_block_list_is_exactly_the_small_order_points() -> None:
    """SMALL_ORDER_Y holds the y of the 8 points of order dividing 8, checked by point arithmetic,
    and every CCTV low-order encoding decodes to one of them."""
    points = set()
    for y in SMALL_ORDER_Y:
        for sign in (0, 1):
            point = _decode_any((y | sign << 255).to_bytes(32, "little"))
            assert point is not None and _mul(8, point) == _IDENTITY
            points.add(point)
    assert len(points) == 8
    for encoding in CCTV_LOW_ORDER_ENCODINGS:
        point = _decode_any(bytes.fromhex(encoding))
        assert point in points and point[1] in SMALL_ORDER_Y
    base = _decode_any((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))
    assert base is not None and _mul(8, base) != _IDENTITY and _mul(L, base) == _IDENTITY


@pytest.mark.parametrize("offset", range(19))
def test_non_canonical_point_encodings_are_refused(offset: int) -> None:
    """Encodings with y >= p (y = p + offset, either sign bit) fail as A and as R."""
    signature = ALICE.sign(b"msg")
    for sign in (0, 1):
        encoding = ((P + offset) | sign << 255).to_bytes(32, "little")
        assert not ed25519_verify(encoding, b"msg", signature)
        assert not ed25519_verify(ALICE.public_key_bytes, b"msg", encoding + signature[32:])


@pytest.mark.parametrize(
    ("public_key", "message", "signature"),
    [
        (bytes(31), b"", bytes(64)),
        (bytes(33), b"", bytes(64)),
        (None, b"", bytes(64)),
        ("00" * 32, b"", bytes(64)),
        (bytes.fromhex(RFC8032[0]["public_key"]), b"", bytes.fromhex(RFC8032[0]["signature"])[:63]),
        (bytes.fromhex(RFC8032[0]["public_key"]), b"", bytes.fromhex(RFC8032[0]["signature"]) + b"\x00"),
        (bytes.fromhex(RFC8032[0]["public_key"]), "", bytes.fromhex(RFC8032[0]["signature"])),
        (b"", b"", b""),
    ],
)
def test_wrong_lengths_and_types_give_false(public_key: Any, message: Any, signature: Any) -> None:
    """Wrong lengths or non-bytes arguments return False instead of raising."""
    assert ed25519_verify(public_key, message, signature) is False


@pytest.mark.parametrize("case", EDGE["speccheck"], ids=[f"case{c['case']}" for c in EDGE["speccheck"]])
def test_taming_the_many_eddsas_cases(case: dict[str, Any]) -> None:
    """The 12 speccheck cases give libsodium's outcomes: only case 3 (mixed-order A and R, valid
    under both equations) passes; OpenSSL alone accepts the small-order cases 0-2 and case 11."""
    key, msg, sig = (bytes.fromhex(case[k]) for k in ("key_hex", "msg_hex", "sig_hex"))
    assert ed25519_verify(key, msg, sig) is case["libsodium_accepts"]
    if case["case"] in (0, 1, 2, 11):
        assert _lenient_verify(key, msg, sig)


_REFUSED_FLAGS = {"low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R", "low_order_residue"}


@pytest.mark.parametrize("vector", EDGE["cctv"], ids=[str(v["number"]) for v in EDGE["cctv"]])
def test_cctv_edge_vectors(vector: dict[str, Any]) -> None:
    """CCTV vectors: refused iff a point is low-order or non-canonical (or the residue needs the
    cofactored equation); points with only a low-order component pass, as no block list finds them.
    Where OpenSSL alone would accept (README: all but non_canonical_R / low_order_residue), the
    strict check is what refuses."""
    key, sig, msg = bytes.fromhex(vector["key_hex"]), bytes.fromhex(vector["sig_hex"]), vector["msg"].encode()
    flags = set(vector["flags"])
    assert ed25519_verify(key, msg, sig) is not bool(flags & _REFUSED_FLAGS)
    assert _lenient_verify(key, msg, sig) is not bool(flags & {"non_canonical_R", "low_order_residue"})


@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=256))
def test_sign_then_verify(seed: bytes, message: bytes) -> None:
    """Any key's signature on any message verifies strictly."""
    key = SigningKey.from_seed(seed)
    assert ed25519_verify(key.public_key_bytes, message, key.sign(message))


@given(data=st.data(), message=st.binary(min_size=1, max_size=64), target=st.sampled_from(["msg", "sig", "key"]))
def test_flipping_any_byte_breaks_verification(data: st.DataObject, message: bytes, target: str) -> None:
    """Changing one byte of the message, the signature or the public key makes verify fail."""
    parts = {"msg": message, "sig": ALICE.sign(message), "key": ALICE.public_key_bytes}
    value = bytearray(parts[target])
    index = data.draw(st.integers(0, len(value) - 1))
    value[index] ^= data.draw(st.integers(1, 255))
    parts[target] = bytes(value)
    assert not ed25519_verify(parts["key"], parts["msg"], parts["sig"])


# ----------------------------------------------------------------------------- did:key, multibase


def test_did_key_of_the_w3c_key_pair() -> None:
    """The vc-di-eddsa B.3 key pair: public multibase is did:key's id, the secret is 0x8026 + seed."""
    public = multibase_decode(W3C["key_pair"]["publicKeyMultibase"])
    secret = multibase_decode(W3C["key_pair"]["secretKeyMultibase"])
    assert public[:2] == b"\xed\x01" and secret[:2] == b"\x80\x26"
    key = SigningKey.from_seed(secret[2:])
    assert key.public_key_bytes == public[2:]
    assert key.did == "did:key:" + W3C["key_pair"]["publicKeyMultibase"]
    assert public_key_from_did_key(key.did) == public[2:]
    assert key.verification_method == W3C["rec_b3"]["proof_options"]["verificationMethod"]


@given(public_key=st.binary(min_size=32, max_size=32))
def test_did_key_round_trips(public_key: bytes) -> None:
    """did:key and its verification method decode back to the same 32 bytes."""
    did = did_key(public_key)
    assert did.startswith("did:key:z6Mk")
    assert public_key_from_did_key(did) == public_key
    assert public_key_from_verification_method(did_key_verification_method(public_key)) == public_key
    assert public_key_from_verification_method(did) == public_key


@given(data=st.binary(max_size=80))
def test_base58btc_round_trips_with_leading_zeros(data: bytes) -> None:
    """base58btc decode(encode(x)) == x, each leading zero byte being one '1'."""
    text = base58btc_encode(data)
    assert base58btc_decode(text) == data
    assert len(text) - len(text.lstrip("1")) == len(data) - len(data.lstrip(b"\x00"))


@given(data=st.binary(max_size=130))
def test_base58btc_is_the_digit_by_digit_definition(data: bytes) -> None:
    """The chunked conversion writes what the textbook definition (draft-msporny-base58-03
    section 3: repeated division by 58, one digit at a time) writes, at every length."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n, digits = int.from_bytes(data, "big"), []
    while n:
        n, digit = divmod(n, 58)
        digits.append(BASE58BTC_ALPHABET[digit])
    assert base58btc_encode(data) == "1" * zeros + "".join(reversed(digits))


@pytest.mark.parametrize(
    ("did", "reason"),
    [
        ("did:key:" + "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq", "DID_KEY_UNSUPPORTED"),  # private key
        ("did:key:z6Mk", "DID_KEY_UNSUPPORTED"),
        ("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0", "DID_KEY_MALFORMED"),  # '0' not base58
        ("did:key:u7QE", "DID_KEY_MALFORMED"),  # base64url multibase
        ("did:web:example.com", "DID_KEY_MALFORMED"),
        ("did:key:z" + "2" * 600, "DID_KEY_MALFORMED"),
    ],
)
def test_bad_did_keys_are_refused(did: str, reason: str) -> None:
    """Malformed, over-long or non-Ed25519 did:key values raise InvalidInput with a stable reason."""
    with pytest.raises(InvalidInput) as err:
        public_key_from_did_key(did)
    assert err.value.reason == reason


def test_verification_method_fragment_must_repeat_the_key() -> None:
    """did:key:X#Y with Y != X is refused."""
    other = did_key(BRIDGE.public_key_bytes).removeprefix("did:key:")
    with pytest.raises(InvalidInput) as err:
        public_key_from_verification_method(f"{ALICE.did}#{other}")
    assert err.value.reason == "DID_KEY_MALFORMED"


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


# ----------------------------------------------------------------------------- eddsa-jcs-2022


def test_w3c_eddsa_jcs_2022_vector_reproduced() -> None:
    """vc-di-eddsa B.3: canonical forms, hashes, signature and proofValue match; the result verifies."""
    v = W3C["rec_b3"]
    key = SigningKey.from_seed(multibase_decode(W3C["key_pair"]["secretKeyMultibase"])[2:])
    assert canonicalize(v["unsigned"]).decode() == v["canonical_document"]
    assert canonicalize(v["proof_options"]).decode() == v["canonical_proof_options"]
    hash_data = jcs_hash_data(v["unsigned"], v["proof_options"])
    assert hash_data.hex() == v["hash_data_hex"]
    assert hash_data[:32].hex() == v["proof_options_hash_hex"] and hash_data[32:].hex() == v["document_hash_hex"]
    assert key.sign(hash_data).hex() == v["signature_hex"]

    signed = sign_document(
        v["unsigned"],
        key=key,
        verification_method=v["proof_options"]["verificationMethod"],
        created=v["proof_options"]["created"],
    )
    assert signed["proof"] == {**v["proof_options"], "proofValue": v["proof_value"]}
    result = verify_document_did_key(signed)
    assert result.verified and result.reason == "VERIFIED"
    assert result.verification_method == v["proof_options"]["verificationMethod"]


def test_w3c_test_vector_with_https_verification_method() -> None:
    """TestVectors/eddsa-jcs-2022/signedJCS.json verifies with a resolver for its https method,
    and its proofValue is the published signature."""
    doc = W3C["signed_jcs_https_vm"]
    public = multibase_decode(W3C["key_pair"]["publicKeyMultibase"])[2:]
    keys = {doc["proof"]["verificationMethod"]: public}
    assert verify_document(doc, resolve_key=keys.__getitem__).verified
    assert multibase_decode(doc["proof"]["proofValue"]).hex() == W3C["signed_jcs_https_vm_signature_hex"]
    assert verify_document_did_key(doc).reason == "KEY_UNRESOLVED"


def _signed(document: dict[str, Any] | None = None, key: SigningKey = ALICE, **options: Any) -> dict[str, Any]:
    return sign_document(
        ITEM if document is None else document,
        key=key,
        verification_method=key.verification_method,
        created=CREATED,
        **options,
    )


def test_sign_document_leaves_input_alone() -> None:
    """sign_document returns a copy; the input document is unchanged."""
    before = copy.deepcopy(ITEM)
    signed = _signed()
    assert before == ITEM and "proof" not in ITEM
    assert signed["proof"]["type"] == "DataIntegrityProof" and signed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert "@context" not in signed["proof"]  # the Item has none to copy


def _mutate(result: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(result)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (["proof", "cryptosuite"], "eddsa-rdfc-2022", "CRYPTOSUITE_UNSUPPORTED"),
        (["proof", "type"], "Ed25519Signature2020", "CRYPTOSUITE_UNSUPPORTED"),
        (["proof", "proofValue"], "z3", "PROOF_MALFORMED"),
        (["proof", "proofValue"], "u" + "A" * 86, "PROOF_MALFORMED"),
        (["proof", "proofValue"], 7, "PROOF_MALFORMED"),
        (["proof", "verificationMethod"], None, "PROOF_MALFORMED"),
        (["proof", "created"], "yesterday", "PROOF_MALFORMED"),
        (["proof", "created"], "2026-02-30T00:00:00Z", "PROOF_MALFORMED"),
        (["proof", "previousProof"], 3, "PROOF_MALFORMED"),
        (["proof", "previousProof"], "urn:uuid:nowhere", "PREVIOUS_PROOF_MISSING"),
        (["proof", "verificationMethod"], "https://a.example/keys#1", "KEY_UNRESOLVED"),
        (["proof", "verificationMethod"], BRIDGE.verification_method, "SIGNATURE_INVALID"),
        (["proof", "created"], "2026-11-25T05:00:01Z", "SIGNATURE_INVALID"),
        (["proof", "@context"], ["https://www.w3.org/ns/credentials/v2"], "PROOF_CONTEXT_MISMATCH"),
        (["proof"], "not a proof", "PROOF_MALFORMED"),
        (["proof"], [], "PROOF_MISSING"),
        (["proof"], [{"type": "DataIntegrityProof"}, 4], "PROOF_MALFORMED"),
        (["ItemData", "Size"], 2**60, "NOT_CANONICALIZABLE"),
        (["ItemData", "Size"], 1025, "SIGNATURE_INVALID"),
    ],
)
def test_verification_reasons(path: list[str], value: Any, reason: str) -> None:
    """Each kind of broken proof or document fails with its stable reason code."""
    result = verify_document_did_key(_mutate(_signed(), path, value))
    assert not result.verified and result.reason == reason


def test_missing_proof_and_non_objects() -> None:
    """No proof gives PROOF_MISSING; a non-object document gives DOCUMENT_MALFORMED."""
    assert verify_document_did_key(ITEM).reason == "PROOF_MISSING"
    assert verify_document_did_key([_signed()]).reason == "DOCUMENT_MALFORMED"  # type: ignore[arg-type]


def test_expected_proof_purpose() -> None:
    """A proof made for another purpose fails when the verifier expects assertionMethod."""
    signed = _signed(proof_purpose="authentication")
    assert verify_document_did_key(signed).verified
    assert verify_document_did_key(signed, expected_proof_purpose="assertionMethod").reason == "PROOF_PURPOSE_MISMATCH"


def test_resolver_failures_are_key_unresolved_but_bugs_propagate() -> None:
    """A resolver raising MmmfedError or LookupError, or returning a bad key, gives KEY_UNRESOLVED;
    any other exception is a bug and is not swallowed."""
    signed = _signed()

    def not_found(vm: str) -> bytes:
        raise NotFound(f"no key {vm}")

    def bug(vm: str) -> bytes:
        raise ZeroDivisionError

    assert verify_document(signed, resolve_key=not_found).reason == "KEY_UNRESOLVED"
    no_keys: dict[str, bytes] = {}
    assert verify_document(signed, resolve_key=no_keys.__getitem__).reason == "KEY_UNRESOLVED"
    assert verify_document(signed, resolve_key=lambda vm: b"short").reason == "KEY_UNRESOLVED"
    with pytest.raises(ZeroDivisionError):
        verify_document(signed, resolve_key=bug)


def test_proof_context_may_be_a_prefix_of_the_document_context() -> None:
    """DI-EDDSA 3.3.2 step 4: contexts appended to the document after signing keep the proof valid;
    changing or removing signed context values does not."""
    doc = {"@context": ["https://www.w3.org/ns/credentials/v2"], **ITEM}
    signed = _signed(doc)
    assert signed["proof"]["@context"] == doc["@context"]
    appended = _mutate(signed, ["@context"], [*doc["@context"], "https://a.example/ctx"])
    assert verify_document_did_key(appended).verified
    assert verify_document_did_key(_mutate(signed, ["@context"], ["https://a.example/ctx"])).reason == (
        "PROOF_CONTEXT_MISMATCH"
    )
    removed = {k: v for k, v in signed.items() if k != "@context"}
    assert verify_document_did_key(removed).reason == "PROOF_CONTEXT_MISMATCH"


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"created": "2026-11-25T05:00:00"}, "PROOF_GENERATION_ERROR"),  # no time zone
        ({"created": "2026-13-01T00:00:00Z"}, "PROOF_GENERATION_ERROR"),
        ({"verification_method": BRIDGE.verification_method}, "PROOF_GENERATION_ERROR"),
        ({"verification_method": ""}, "PROOF_GENERATION_ERROR"),
        ({"proof_purpose": ""}, "PROOF_GENERATION_ERROR"),
        ({"proof_id": ""}, "PROOF_GENERATION_ERROR"),
        ({"created": "\u0662\u0660\u0662\u0666-11-25T05:00:00Z"}, "PROOF_GENERATION_ERROR"),  # Arabic-Indic digits
        ({"previous_proof": "urn:uuid:nowhere"}, "PREVIOUS_PROOF_MISSING"),
        ({"previous_proof": []}, "PROOF_MALFORMED"),
    ],
)
def test_sign_document_refuses_bad_options(options: dict[str, Any], reason: str) -> None:
    """Bad signing options raise InvalidInput with a stable reason."""
    arguments: dict[str, Any] = {"key": ALICE, "verification_method": ALICE.verification_method, "created": CREATED}
    with pytest.raises(InvalidInput) as err:
        sign_document(ITEM, **(arguments | options))
    assert err.value.reason == reason


def test_proof_ids_must_be_unique() -> None:
    """Adding a proof whose id another proof on the document already has is refused."""
    signed = _signed(proof_id="urn:p:1")
    with pytest.raises(InvalidInput) as err:
        _signed(signed, key=BRIDGE, proof_id="urn:p:1")
    assert err.value.reason == "PROOF_GENERATION_ERROR"


def test_sign_document_refuses_what_jcs_cannot_represent() -> None:
    """A document with a float NaN or a too-large integer cannot be signed."""
    with pytest.raises(InvalidInput) as err:
        _signed({**ITEM, "x": float("nan")})
    assert err.value.reason == "NOT_CANONICALIZABLE"
    with pytest.raises(InvalidInput) as err:
        _signed({**ITEM, "proof": "junk"})
    assert err.value.reason == "PROOF_MALFORMED"


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
