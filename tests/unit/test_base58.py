"""base58btc decoding (mmmfed.did): the fast path (up to 128 characters) and the loop after it
give the textbook value, and errors name the first character outside the alphabet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmmfed.did import BASE58BTC_ALPHABET, base58btc_decode
from mmmfed.errors import InvalidInput


@given(text=st.text(BASE58BTC_ALPHABET, max_size=200))
def test_base58btc_decode_is_the_digit_by_digit_definition(text: str) -> None:
    """Decoding gives the textbook value (one multiplication by 58 a digit, a zero byte per leading
    '1') on both sides of the fast path's length limit (128 characters)."""
    n = 0
    for char in text:
        n = n * 58 + BASE58BTC_ALPHABET.index(char)
    zeros = len(text) - len(text.lstrip("1"))
    assert base58btc_decode(text) == b"\x00" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


@pytest.mark.parametrize("text", ["abc0def", "I", "zzO", "l" + "2" * 130, "22\u00e9", "2 3", "\U0001f600"])
def test_base58btc_decode_names_the_first_character_outside_the_alphabet(text: str) -> None:
    """A character outside the alphabet is MULTIBASE_MALFORMED, and the message names the first one."""
    bad = next(c for c in text if c not in BASE58BTC_ALPHABET)
    with pytest.raises(InvalidInput) as err:
        base58btc_decode(text)
    assert err.value.reason == "MULTIBASE_MALFORMED"
    assert err.value.message.startswith(f"{bad!r} is not")
