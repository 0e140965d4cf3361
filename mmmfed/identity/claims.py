"""The identity claims of a user's Personal Profile (issue 17 item 1; IDIR-101/103) and the ages
derived from the birthdate at issue time (FGMV-43 9.4 step 1).

Claim names (every one selectively disclosable in the credential; names of OpenID Connect Core
5.1 where one exists):

- ``name``: display name (string, 1..200 characters);
- ``birthdate``: ``YYYY-MM-DD``;
- ``age_over_13``, ``age_over_16``, ``age_over_18``, ``age_over_21``: booleans, true when the
  user has reached that age on the issue date (a birthday on 29 February counts from 1 March in
  years without one);
- ``languages``: BCP 47 tags, most preferred first; ``comfort``: comfort preferences as a JSON
  object (e.g. ``{"motion": "reduced", "max_volume_db": 70}``);
- ``avatars``, ``assets``, ``rights``: references (Item and Rights ids at the home M-Instance),
  never the content itself; an avatar may instead be its Persona's id with the Qualifier facts
  the home vouches for (:data:`AVATAR_FIELDS`: ``{"ItemID": id, "Format": "glTF/2.0-binary",
  "Attributes": {"Triangles": "12", "TextureFormats": "image/png", "MaxTexturePx": "211"},
  "Length": bytes}``, as the Persona Item's ItemQualifier and ItemData state them), so a
  destination can judge its appearance criteria (IDIR-303, :mod:`.policy`);
- ``reputation``: a reputation credential in its compact form (:mod:`.reputation`), issued by the
  home or a third party, carried as it is.

The issue date is always passed in (no wall clock here), so tests and re-issuance are exact.
Errors: InvalidInput ``BIRTHDATE_INVALID`` (not a calendar date, or after the issue date),
``PROFILE_INVALID`` (an empty or over-long name, a reference that is not a non-empty string).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mmmfed.errors import InvalidInput

AGE_THRESHOLDS = (13, 16, 18, 21)
MAX_NAME_CHARS = 200
MAX_REFERENCES = 256
MAX_REPUTATION_CHARS = 8192
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_birthdate(text: str) -> dt.date:
    """``YYYY-MM-DD`` as a date; InvalidInput ``BIRTHDATE_INVALID`` otherwise."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise InvalidInput(f"birthdate {text!r} is not YYYY-MM-DD", reason="BIRTHDATE_INVALID")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(f"birthdate {text!r} is not a calendar date", reason="BIRTHDATE_INVALID") from err


def age_on(birthdate: dt.date, day: dt.date) -> int:
    """Whole years from ``birthdate`` to ``day`` (the birthday itself counts)."""
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


def age_claims(birthdate: dt.date, issued_on: dt.date) -> dict[str, bool]:
    """``{"age_over_13": ..., ..., "age_over_21": ...}`` on ``issued_on``; InvalidInput
    ``BIRTHDATE_INVALID`` if the birthdate is after it."""
    if birthdate > issued_on:
        raise InvalidInput(f"birthdate {birthdate} is after the issue date {issued_on}", reason="BIRTHDATE_INVALID")
    age = age_on(birthdate, issued_on)
    return {f"age_over_{n}": age >= n for n in AGE_THRESHOLDS}


AVATAR_FIELDS = ("ItemID", "Format", "Attributes", "Length")
MAX_AVATAR_ATTRIBUTES = 16
MAX_ATTRIBUTE_CHARS = 256


def _attribute(key: object, value: object) -> bool:
    return isinstance(key, str) and isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_CHARS


def _avatars(values: tuple[str | Mapping[str, Any], ...]) -> list[Any]:
    """The ``avatars`` claim: references, or Personae with their Qualifier (module docstring);
    InvalidInput ``PROFILE_INVALID`` naming what is wrong."""
    if len(values) > MAX_REFERENCES:
        raise InvalidInput(f"avatars must be at most {MAX_REFERENCES}", reason="PROFILE_INVALID")
    out: list[Any] = []
    for value in values:
        if isinstance(value, str) and value:
            out.append(value)
            continue
        if not isinstance(value, Mapping) or set(value) - set(AVATAR_FIELDS):
            raise InvalidInput(
                f"an avatar is an Item id or an object of {', '.join(AVATAR_FIELDS)}", reason="PROFILE_INVALID"
            )
        attrs = value.get("Attributes", {})
        length = value.get("Length", 0)
        if (
            not isinstance(value.get("ItemID"), str)
            or not value["ItemID"]
            or not isinstance(value.get("Format"), str)
            or not 0 < len(value["Format"]) <= 64
            or not isinstance(attrs, Mapping)
            or len(attrs) > MAX_AVATAR_ATTRIBUTES
            or not all(
                isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_ATTRIBUTE_CHARS for k, v in attrs.items()
            )
            or not isinstance(length, int)
            or isinstance(length, bool)
            or length < 0
        ):
            raise InvalidInput(
                "an avatar object names its ItemID and Format (1..64 characters), at most"
                f" {MAX_AVATAR_ATTRIBUTES} string Attributes and a Length in bytes",
                reason="PROFILE_INVALID",
            )
        out.append(dict(value) | {"Attributes": dict(attrs)})
    return out


def _references(name: str, values: tuple[str, ...]) -> list[str]:
    if len(values) > MAX_REFERENCES or not all(isinstance(v, str) and v for v in values):
        raise InvalidInput(f"{name} must be at most {MAX_REFERENCES} non-empty ids", reason="PROFILE_INVALID")
    return list(values)


@dataclass(frozen=True)
class IdentityProfile:
    """What the home M-Instance knows of a user and may put in their credential."""

    name: str
    birthdate: dt.date
    languages: tuple[str, ...] = ()
    comfort: Mapping[str, Any] = field(default_factory=dict)
    avatars: tuple[str | Mapping[str, Any], ...] = ()
    assets: tuple[str, ...] = ()
    rights: tuple[str, ...] = ()
    reputation: str | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> IdentityProfile:
        """The profile a credential's claims hold (the ages are derived again at the next issue),
        for re-issuing it with a change (IDSF). InvalidInput ``BIRTHDATE_INVALID`` /
        ``PROFILE_INVALID`` for claims no credential of ours holds."""
        try:
            return cls(
                name=str(claims["name"]),
                birthdate=parse_birthdate(str(claims["birthdate"])),
                languages=tuple(claims.get("languages", ())),
                comfort=dict(claims.get("comfort", {})),
                avatars=tuple(claims.get("avatars", ())),
                assets=tuple(claims.get("assets", ())),
                rights=tuple(claims.get("rights", ())),
                reputation=claims.get("reputation"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInput(f"the credential's claims are not a profile: {err}", reason="PROFILE_INVALID") from err

    def claims(self, *, issued_on: dt.date) -> dict[str, Any]:
        """Every disclosable claim (module docstring), ages as of ``issued_on``; empty lists and
        an empty ``comfort`` are left out."""
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME_CHARS:
            raise InvalidInput(f"display name must be 1..{MAX_NAME_CHARS} characters", reason="PROFILE_INVALID")
        claims: dict[str, Any] = {"name": self.name, "birthdate": self.birthdate.isoformat()}
        claims |= age_claims(self.birthdate, issued_on)
        optional: dict[str, Any] = {
            "languages": _references("languages", self.languages),
            "comfort": dict(self.comfort),
            "avatars": _avatars(self.avatars),
            "assets": _references("assets", self.assets),
            "rights": _references("rights", self.rights),
        }
        if self.reputation is not None:
            if not isinstance(self.reputation, str) or not 0 < len(self.reputation) <= MAX_REPUTATION_CHARS:
                raise InvalidInput(
                    f"a reputation credential is 1..{MAX_REPUTATION_CHARS} characters", reason="PROFILE_INVALID"
                )
            optional["reputation"] = self.reputation
        return claims | {k: v for k, v in optional.items() if v}
