"""Strict Ed25519 (RFC 8032) in mmmfed.proofs: the RFC 8032 section 7.1 vectors, key generation,
and the refusals of strict verification (S >= L, small-order public keys and R, non-canonical point
encodings, wrong lengths and types), checked against "Taming the many EdDSAs" and C2SP/CCTV
ed25519 edge vectors and a lenient verifier (pyca/cryptography) with independent edwards25519
arithmetic; sign-then-verify and byte-flip properties."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from proof_vectors import ALICE, EDGE, RFC8032

from mmmfed.proofs import SMALL_ORDER_Y, L, P, SigningKey, ed25519_verify, generate_key


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
