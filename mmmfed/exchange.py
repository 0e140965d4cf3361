"""ASEF, the Asset Exchange Functions (FGMV-43 7.2.2, 9.2 steps 3 and 5): a payment in the
origin's currency becomes a payment in the destination's, by a declared policy.

All money is integers in minor units; the rate is an exact fraction (:class:`fractions.Fraction`),
so nothing is ever a float. For an amount ``paid``:

* ``fee = ceil(paid * fee_bp / 10000)`` in the origin's currency (rounded up: never under-declared);
* ``received = round(rounding, (paid - fee) * rate)`` in the destination's currency.

Value is conserved apart from the declared fee: the origin's payer loses ``paid``, the origin's
exchange keeps ``fee``, the origin's settlement account for the peer holds ``paid - fee``, and the
destination's settlement account for the origin pays out ``received``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from mmmfed.config import ExchangePolicyConfig
from mmmfed.errors import InvalidInput

ROUNDINGS = ("half_even", "down", "up")
MAX_AMOUNT = 2**53 - 1  # I-JSON: amounts travel in JSON documents


@dataclass(frozen=True)
class ExchangePolicy:
    """One direction of exchange: ``from_currency`` minor units -> ``to_currency`` minor units."""

    from_currency: str
    to_currency: str
    rate: Fraction
    fee_bp: int
    rounding: str
    source: str

    @classmethod
    def from_config(cls, config: ExchangePolicyConfig, *, from_currency: str, source: str) -> ExchangePolicy:
        """The policy an :class:`ExchangePolicyConfig` declares (``source`` says where it came
        from, e.g. "manifesto a.example asset.exchange.b.example")."""
        return cls(from_currency, config.to_currency, Fraction(config.rate), config.fee_bp, config.rounding, source)

    @classmethod
    def parse(cls, described: str, *, from_currency: str, source: str) -> ExchangePolicy:
        """The policy a manifesto policy value declares (the inverse of :meth:`describe`), as a
        destination reads the origin's ``asset.exchange.<peer>`` (issue 12 item 3). Raises
        InvalidInput ``EXCHANGE_POLICY_INVALID`` for a value that is not one."""
        try:
            fields = dict(part.split("=", 1) for part in described.split())
            policy = cls(
                from_currency, fields["to"], Fraction(fields["rate"]), int(fields["fee_bp"]), fields["rounding"], source
            )
        except (KeyError, ValueError, ZeroDivisionError) as err:
            raise InvalidInput(
                f"{described[:200]!r} is not an exchange policy", reason="EXCHANGE_POLICY_INVALID"
            ) from err
        if policy.rounding not in ROUNDINGS or not from_currency or not policy.to_currency:
            raise InvalidInput(f"{described[:200]!r} is not an exchange policy", reason="EXCHANGE_POLICY_INVALID")
        return policy

    def describe(self) -> str:
        """The policy as a manifesto policy value: "to=BCU rate=3/2 fee_bp=50 rounding=half_even"."""
        return f"to={self.to_currency} rate={self.rate} fee_bp={self.fee_bp} rounding={self.rounding}"


@dataclass(frozen=True)
class Exchanged:
    """The outcome of exchanging ``paid``: ``paid = fee + (paid - fee)`` and ``received``."""

    paid: int
    fee: int
    received: int
    policy: ExchangePolicy

    @property
    def exchanged(self) -> int:
        """The part of ``paid`` that was exchanged (origin minor units)."""
        return self.paid - self.fee


def round_fraction(value: Fraction, rounding: str) -> int:
    """``value`` (non-negative) to an integer: "half_even" (banker's), "down" (floor) or "up"
    (ceiling). Raises InvalidInput ``EXCHANGE_POLICY_INVALID`` for another rule."""
    if rounding == "down":
        return math.floor(value)
    if rounding == "up":
        return math.ceil(value)
    if rounding == "half_even":
        return round(value)  # Fraction.__round__ rounds half to even, exactly
    raise InvalidInput(
        f"rounding must be one of {', '.join(ROUNDINGS)}, not {rounding!r}", reason="EXCHANGE_POLICY_INVALID"
    )


def exchange(paid: int, policy: ExchangePolicy) -> Exchanged:
    """Exchange ``paid`` origin minor units by ``policy`` (see the module doc).

    Raises InvalidInput ``AMOUNT_INVALID`` when ``paid`` is not an integer in [1, 2**53 - 1],
    ``EXCHANGE_POLICY_INVALID`` for a rate that is not positive, and ``AMOUNT_TOO_SMALL`` when
    nothing would arrive (the fee takes it all, or the result rounds to 0)."""
    if not isinstance(paid, int) or isinstance(paid, bool) or not 1 <= paid <= MAX_AMOUNT:
        raise InvalidInput(
            f"a payment must be a whole number of minor units in [1, 2^53-1], not {paid!r}", reason="AMOUNT_INVALID"
        )
    if policy.rate <= 0 or not 0 <= policy.fee_bp <= 10_000:
        raise InvalidInput(f"exchange policy {policy.describe()} is not usable", reason="EXCHANGE_POLICY_INVALID")
    fee = -((-paid * policy.fee_bp) // 10_000)  # ceiling division, integers only
    received = round_fraction((paid - fee) * policy.rate, policy.rounding)
    if received <= 0 or received > MAX_AMOUNT:
        raise InvalidInput(
            f"{paid} {policy.from_currency} minor units would deliver {received} {policy.to_currency} "
            f"under {policy.describe()}",
            reason="AMOUNT_TOO_SMALL" if received <= 0 else "AMOUNT_INVALID",
        )
    return Exchanged(paid=paid, fee=fee, received=received, policy=policy)
