"""did:key and multibase in mmmfed.did: the did:key of the W3C key pair (vc-di-eddsa), round trips
of did:key and base58btc (leading zeros, the digit-by-digit definition), bad did:keys refused, and a
verification method's fragment repeating its key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from proof_vectors import ALICE, BRIDGE, W3C

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
from mmmfed.errors import InvalidInput
from mmmfed.proofs import SigningKey

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
