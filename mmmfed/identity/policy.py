"""The destination's eligibility rules for arriving identities (IDIR-303; FGMV-43 9.4 step 3;
issue 17 item 3), checked on the disclosed claims only, after every cryptographic check passed.

Rules (a frozen :class:`EligibilityPolicy`, normally from the destination's manifesto):

- ``min_age``: one of 13, 16, 18, 21; the presentation must disclose ``age_over_<min_age>`` and it
  must be true. Refusal: PermissionDenied ``ELIGIBILITY_AGE``, metadata ``rule`` =
  ``age_over_<n>`` (whether the claim was false or not disclosed: the message says which).
- ``required_claims``: claim names that must be disclosed (e.g. ``name``). Refusal:
  PermissionDenied ``ELIGIBILITY_CLAIM_MISSING``, metadata ``rule`` = ``required:<name>``.

- ``appearance`` (manifesto policy ``identity.appearance`` = ``accepts``): every avatar a
  presentation discloses (claim ``avatars``) must be one the destination's manifesto accepts, as
  its ``accepts`` rows for Personae already express it: a Format it accepts, within that row's
  limits (triangles, texture formats, texture size, bytes). An avatar is judged by the Qualifier
  the home signed into the credential with it (:data:`mmmfed.identity.claims.AVATAR_FIELDS`:
  ``{"ItemID", "Format", "Attributes": {"Triangles", "TextureFormats", "MaxTexturePx"}, "Length"}``,
  the Persona Item's own Qualifier facts); a bare reference cannot be shown to meet them. Not
  disclosing ``avatars`` is not refused by this rule. Refusal: PermissionDenied
  ``ELIGIBILITY_APPEARANCE``, metadata ``rule`` = ``appearance:qualifier`` (no Qualifier),
  ``appearance:format`` (a Format not accepted), ``appearance:max_triangles:<n>``,
  ``appearance:texture_formats:<a,b>``, ``appearance:max_texture_px:<n>``,
  ``appearance:max_bytes:<n>``, and ``avatar`` = the avatar's ItemID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import InvalidInput, PermissionDenied
from mmmfed.identity.claims import AGE_THRESHOLDS

ELIGIBILITY_AGE = "ELIGIBILITY_AGE"
ELIGIBILITY_CLAIM_MISSING = "ELIGIBILITY_CLAIM_MISSING"
ELIGIBILITY_APPEARANCE = "ELIGIBILITY_APPEARANCE"
AVATARS_CLAIM = "avatars"


@dataclass(frozen=True)
class AppearanceRow:
    """One Persona row of the destination's ``accepts``: a Format and its limits (0 / empty: none)."""

    format: str
    max_triangles: int = 0
    texture_formats: tuple[str, ...] = ()
    max_texture_px: int = 0
    max_bytes: int = 0

    @classmethod
    def of(cls, feature: mpb.Feature) -> AppearanceRow:
        """The row of a manifesto Feature."""
        limits = feature.constraints
        return cls(
            format=feature.qualifier.format,
            max_triangles=limits.max_triangles,
            texture_formats=tuple(limits.texture_formats),
            max_texture_px=limits.max_texture_px,
            max_bytes=limits.max_bytes,
        )

    def problem(self, avatar: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(rule, why)`` for the first limit ``avatar`` (a Qualifier as the claim carries it)
        is not shown to meet, or None if it meets them all."""
        raw_attrs = avatar.get("Attributes")
        attrs: Mapping[str, Any] = raw_attrs if isinstance(raw_attrs, Mapping) else {}
        for limit, key, rule, unit in (
            (self.max_triangles, "Triangles", "max_triangles", "triangles"),
            (self.max_texture_px, "MaxTexturePx", "max_texture_px", "px textures"),
        ):
            if not limit:
                continue
            value = _count(attrs.get(key))
            if value is None:
                return f"appearance:{rule}:{limit}", f"its {unit} are not stated (at most {limit} here)"
            if value > limit:
                return f"appearance:{rule}:{limit}", f"{value} {unit} > {limit}"
        if self.max_bytes:
            length = avatar.get("Length")
            if not isinstance(length, int) or isinstance(length, bool):
                return (
                    f"appearance:max_bytes:{self.max_bytes}",
                    f"its size is not stated (at most {self.max_bytes} bytes here)",
                )
            if length > self.max_bytes:
                return f"appearance:max_bytes:{self.max_bytes}", f"{length} bytes > {self.max_bytes}"
        if self.texture_formats:
            allowed = ",".join(self.texture_formats)
            raw = attrs.get("TextureFormats")
            if not isinstance(raw, str):
                return (
                    f"appearance:texture_formats:{allowed}",
                    f"its texture formats are not stated (only {allowed} here)",
                )
            extra = sorted({f for f in raw.split(",") if f} - set(self.texture_formats))
            if extra:
                return f"appearance:texture_formats:{allowed}", f"textures in {', '.join(extra)} (only {allowed} here)"
        return None


def _count(value: object) -> int | None:
    """A Qualifier attribute as a whole number (the Persona Item states them as strings)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def _appearance_refusal(rule: str, avatar_id: str, why: str) -> PermissionDenied:
    return PermissionDenied(
        f"this M-Instance admits avatars within its manifesto's limits: avatar {avatar_id[:256]}: {why}",
        reason=ELIGIBILITY_APPEARANCE,
        metadata={"rule": rule, "avatar": avatar_id[:256]},
    )


def check_appearance(rows: Sequence[AppearanceRow], avatars: object) -> None:
    """None if every avatar in the disclosed ``avatars`` claim meets one of ``rows`` (its Format's
    row); else PermissionDenied ``ELIGIBILITY_APPEARANCE`` naming the rule (module docstring)."""
    entries = avatars if isinstance(avatars, list) else [avatars]
    for avatar in entries:
        if not isinstance(avatar, Mapping) or not isinstance(avatar.get("Format"), str):
            avatar_id = avatar if isinstance(avatar, str) else "(unnamed)"
            raise _appearance_refusal(
                "appearance:qualifier", avatar_id, "the credential carries no Qualifier (Format, Attributes) for it"
            )
        avatar_id = str(avatar.get("ItemID", "(unnamed)"))
        matching = [r for r in rows if r.format == avatar["Format"]]
        if not matching:
            formats = ", ".join(sorted({r.format for r in rows})) or "none"
            raise _appearance_refusal(
                "appearance:format", avatar_id, f"it is {avatar['Format'][:64]}; this M-Instance accepts {formats}"
            )
        problems = [r.problem(avatar) for r in matching]
        if all(p is not None for p in problems):
            rule, why = problems[0]  # type: ignore[misc]
            raise _appearance_refusal(rule, avatar_id, why)


@dataclass(frozen=True)
class EligibilityPolicy:
    """What a destination requires of an arriving identity (module docstring)."""

    min_age: int | None = None
    required_claims: tuple[str, ...] = ()
    appearance: tuple[AppearanceRow, ...] | None = None
    """The Persona rows disclosed avatars must meet (None: no appearance rule)."""

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
        if self.appearance is not None and AVATARS_CLAIM in claims:
            check_appearance(self.appearance, claims[AVATARS_CLAIM])


MIN_AGE_POLICY = "identity.min_age"
REQUIRED_CLAIMS_POLICY = "identity.required_claims"


APPEARANCE_POLICY = "identity.appearance"
APPEARANCE_ACCEPTS = "accepts"


def policy_from_manifesto(
    policies: Mapping[str, str], accepts: Sequence[mpb.Feature] | None = None
) -> EligibilityPolicy:
    """The destination's rules from its manifesto's policies (FGMV-43 9.5 step 1):
    ``identity.min_age`` (``"18"``), ``identity.required_claims`` (``"name, languages"``) and
    ``identity.appearance`` (``"accepts"``: disclosed avatars within the Persona rows of
    ``accepts``, the manifesto's accepted Features; None: rows unknown, so no appearance rule is
    checked, as at the home, which leaves it to the destination); none present: no rule.
    InvalidInput ``POLICY_INVALID`` (metadata ``policy``) for a min_age that is not 13, 16, 18
    or 21, or an appearance policy other than ``accepts``."""
    raw_appearance = policies.get(APPEARANCE_POLICY, "").strip()
    if raw_appearance not in ("", APPEARANCE_ACCEPTS):
        raise InvalidInput(
            f"manifesto policy {APPEARANCE_POLICY}={raw_appearance[:50]!r} is not {APPEARANCE_ACCEPTS!r}",
            reason="POLICY_INVALID",
            metadata={"policy": APPEARANCE_POLICY},
        )
    appearance = None
    if raw_appearance and accepts is not None:
        appearance = tuple(AppearanceRow.of(f) for f in accepts if f.qualifier.sub_type in ("Persona", ""))
    raw_age = policies.get(MIN_AGE_POLICY, "").strip()
    required = tuple(c.strip() for c in policies.get(REQUIRED_CLAIMS_POLICY, "").split(",") if c.strip())
    if raw_age and not raw_age.isdigit():
        raise InvalidInput(
            f"manifesto policy {MIN_AGE_POLICY}={raw_age[:50]!r} is not a number",
            reason="POLICY_INVALID",
            metadata={"policy": MIN_AGE_POLICY},
        )
    return EligibilityPolicy(min_age=int(raw_age) if raw_age else None, required_claims=required, appearance=appearance)
