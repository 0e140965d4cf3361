"""ASEF (FGMV-43 9.2 steps 3, 5): exchange in integer minor units by a declared policy."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmmfed.config import ExchangePolicyConfig
from mmmfed.errors import InvalidInput
from mmmfed.exchange import MAX_AMOUNT, ExchangePolicy, exchange, round_fraction


def _policy(rate: str = "3/2", fee_bp: int = 50, rounding: str = "half_even") -> ExchangePolicy:
    config = ExchangePolicyConfig(to_currency="BCU", rate=rate, fee_bp=fee_bp, rounding=rounding)  # type: ignore[arg-type]
    return ExchangePolicy.from_config(config, from_currency="ACU", source="test")


@pytest.mark.parametrize(
    ("paid", "rounding", "fee", "received"),
    [
        (1000, "half_even", 5, 1492),  # 995 * 3/2 = 1492.5 -> even
        (1002, "half_even", 6, 1494),  # 996 * 3/2 = 1494
        (1001, "half_even", 6, 1492),  # fee 5.005 rounds up to 6; 995 * 3/2 = 1492.5 -> even
        (1000, "down", 5, 1492),
        (1000, "up", 5, 1493),
        (999, "half_even", 5, 1491),  # 994 * 3/2 = 1491
    ],
)
def test_fee_rounds_up_and_the_result_by_the_declared_rule(paid: int, rounding: str, fee: int, received: int) -> None:
    done = exchange(paid, _policy(rounding=rounding))
    assert (done.paid, done.fee, done.exchanged, done.received) == (paid, fee, paid - fee, received)
    assert all(isinstance(v, int) for v in (done.paid, done.fee, done.received))


def test_half_even_rounds_ties_to_even_both_ways() -> None:
    assert [round_fraction(Fraction(n, 2), "half_even") for n in (1, 3, 5, 7)] == [0, 2, 2, 4]


@pytest.mark.parametrize(
    ("paid", "policy", "reason"),
    [
        (0, _policy(), "AMOUNT_INVALID"),
        (-5, _policy(), "AMOUNT_INVALID"),
        (MAX_AMOUNT + 1, _policy(), "AMOUNT_INVALID"),
        (True, _policy(), "AMOUNT_INVALID"),
        (1, _policy(rate="1/3", fee_bp=0, rounding="down"), "AMOUNT_TOO_SMALL"),
        (10, _policy(fee_bp=10_000), "AMOUNT_TOO_SMALL"),
    ],
)
def test_amounts_that_cannot_be_exchanged_are_refused(paid: int, policy: ExchangePolicy, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        exchange(paid, policy)
    assert caught.value.reason == reason


def test_a_policy_with_another_rounding_rule_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        round_fraction(Fraction(1, 2), "banker")
    assert caught.value.reason == "EXCHANGE_POLICY_INVALID"


@given(
    paid=st.integers(min_value=1, max_value=10**12),
    p=st.integers(min_value=1, max_value=10**6),
    q=st.integers(min_value=1, max_value=10**6),
    fee_bp=st.integers(min_value=0, max_value=9_999),
    rounding=st.sampled_from(["half_even", "down", "up"]),
)
def test_value_is_conserved_apart_from_the_declared_fee(paid: int, p: int, q: int, fee_bp: int, rounding: str) -> None:
    """Amounts that fit are exchanged and the others refused with the right reason; paid = fee +
    exchanged exactly; the fee is never under-declared and never exceeds the
    policy by a whole minor unit; received is within one minor unit of exchanged x rate, on the
    side the rounding rule says."""
    try:
        done = exchange(paid, _policy(rate=f"{p}/{q}", fee_bp=fee_bp, rounding=rounding))
    except InvalidInput as err:  # nothing would arrive, or more than an I-JSON integer holds
        fee = -((-paid * fee_bp) // 10_000)
        exact = (paid - fee) * Fraction(p, q)
        assert err.reason == ("AMOUNT_TOO_SMALL" if exact < 1 else "AMOUNT_INVALID"), (err.reason, exact)
        assert exact < 1 or exact > MAX_AMOUNT - 1
        return
    assert done.fee + done.exchanged == paid
    exact_fee = Fraction(paid * fee_bp, 10_000)
    assert exact_fee <= done.fee < exact_fee + 1
    exact = done.exchanged * Fraction(p, q)
    assert abs(done.received - exact) <= (Fraction(1, 2) if rounding == "half_even" else 1)
    if rounding == "down":
        assert done.received <= exact
    if rounding == "up":
        assert done.received >= exact


@given(
    p=st.integers(1, 10**6),
    q=st.integers(1, 10**6),
    fee_bp=st.integers(0, 10_000),
    rounding=st.sampled_from(["half_even", "down", "up"]),
)
def test_a_published_policy_parses_back_to_itself(p: int, q: int, fee_bp: int, rounding: str) -> None:
    """Issue 12 item 3: what a destination reads from ``asset.exchange.<peer>`` is the policy the
    origin described (describe, then parse)."""
    policy = ExchangePolicy("ACU", "BCU", Fraction(p, q), fee_bp, rounding, "")
    assert ExchangePolicy.parse(policy.describe(), from_currency="ACU", source="") == policy


@pytest.mark.parametrize(
    "described",
    [
        "",
        "to=BCU",
        "to=BCU rate=x fee_bp=1 rounding=up",
        "to=BCU rate=1/0 fee_bp=1 rounding=up",
        "to=BCU rate=1 fee_bp=1 rounding=sideways",
        "nonsense",
    ],
)
def test_a_policy_value_that_is_not_one_is_refused(described: str) -> None:
    """A malformed ``asset.exchange.<peer>`` value is InvalidInput EXCHANGE_POLICY_INVALID."""
    with pytest.raises(InvalidInput) as caught:
        ExchangePolicy.parse(described, from_currency="ACU", source="")
    assert caught.value.reason == "EXCHANGE_POLICY_INVALID"
