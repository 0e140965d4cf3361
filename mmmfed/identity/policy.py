"""The destination's eligibility rules for arriving identities (IDIR-303; FGMV-43 9.4 step 3;
issue 17 item 3), checked on the disclosed claims only, after every cryptographic check passed.

Rules (a frozen :class:`EligibilityPolicy`, normally from the destination's manifesto):

- ``min_age``: one of 13, 16, 18, 21; the presentation must disclose ``age_over_<min_age>`` and it
  must be true. Refusal: PermissionDenied ``ELIGIBILITY_AGE``, metadata ``rule`` =
  ``age_over_<n>`` (whether the claim was false or not disclosed: the message says which).
- ``required_claims``: claim names that must be disclosed (e.g. ``name``). Refusal:
  PermissionDenied ``ELIGIBILITY_CLAIM_MISSING``, metadata ``rule`` = ``required:<name>``.

Appearance criteria (the avatar within the destination's limits) are not checked here yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput, PermissionDenied
from mmmfed.identity.claims import AGE_THRESHOLDS

ELIGIBILITY_AGE = "ELIGIBILITY_AGE"
ELIGIBILITY_CLAIM_MISSING = "ELIGIBILITY_CLAIM_MISSING"


@dataclass(frozen=True)
class EligibilityPolicy:
    """What a destination requires of an arriving identity (module docstring)."""

    min_age: int | None = None
    required_claims: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_age is not None and self.min_age not in AGE_THRESHOLDS:
            raise InvalidInput(
                f"min_age {self.min_age} is not one of {', '.join(map(str, AGE_THRESHOLDS))}", reason="POLICY_INVALID"
            )

    def check(self, claims: Mapping[str, Any]) -> None:
        """None if ``claims`` (what was disclosed) meet every rule; else PermissionDenied naming it."""
        for name in self.required_claims:
            if name not in claims:
                raise PermissionDenied(
                    f"this M-Instance requires the claim {name!r}; present it with --disclose {name}",
                    reason=ELIGIBILITY_CLAIM_MISSING,
                    metadata={"rule": f"required:{name}"},
                )
        if self.min_age is not None:
            rule = f"age_over_{self.min_age}"
            value = claims.get(rule)
            if value is not True:
                said = "was not disclosed" if value is None else "is false"
                raise PermissionDenied(
                    f"this M-Instance admits users aged {self.min_age} or over: {rule} {said}",
                    reason=ELIGIBILITY_AGE,
                    metadata={"rule": rule},
                )


MIN_AGE_POLICY = "identity.min_age"
REQUIRED_CLAIMS_POLICY = "identity.required_claims"


def policy_from_manifesto(policies: Mapping[str, str]) -> EligibilityPolicy:
    """The destination's rules from its manifesto's policies (FGMV-43 9.5 step 1):
    ``identity.min_age`` (``"18"``) and ``identity.required_claims`` (``"name, languages"``);
    neither present: no rule. InvalidInput ``POLICY_INVALID`` (metadata ``policy``) for a
    min_age that is not 13, 16, 18 or 21."""
    raw_age = policies.get(MIN_AGE_POLICY, "").strip()
    required = tuple(c.strip() for c in policies.get(REQUIRED_CLAIMS_POLICY, "").split(",") if c.strip())
    if raw_age and not raw_age.isdigit():
        raise InvalidInput(
            f"manifesto policy {MIN_AGE_POLICY}={raw_age[:50]!r} is not a number",
            reason="POLICY_INVALID",
            metadata={"policy": MIN_AGE_POLICY},
        )
    return EligibilityPolicy(min_age=int(raw_age) if raw_age else None, required_claims=required)
