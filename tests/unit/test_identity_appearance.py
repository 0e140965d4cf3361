"""IDIR-303 appearance criteria (mmmfed/identity/policy.py): disclosed avatars judged by the
Qualifier the home signed with them against the destination's accepted Persona rows."""

from __future__ import annotations

from typing import Any

import pytest

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import InvalidInput, PermissionDenied
from mmmfed.identity.claims import IdentityProfile, parse_birthdate
from mmmfed.identity.policy import policy_from_manifesto

GLB = "glTF/2.0-binary"
ACCEPTS = [
    mpb.Feature(
        item_type="ITM",
        qualifier=mpb.Qualifier(sub_type="Persona", format=GLB),
        constraints=mpb.Constraints(
            max_triangles=1500, texture_formats=["image/jpeg"], max_texture_px=512, max_bytes=1_000_000
        ),
    ),
    mpb.Feature(item_type="ASS", qualifier=mpb.Qualifier(sub_type="Model", format="USDZ/1.0")),
]
POLICY = {"identity.appearance": "accepts"}


def avatar(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ItemID": "mmm://a.example/personae/p1",
        "Format": GLB,
        "Attributes": {"Triangles": "900", "TextureFormats": "image/jpeg", "MaxTexturePx": "512"},
        "Length": 40_000,
    }
    return base | changes


def rule_of(avatars: object) -> str | None:
    try:
        policy_from_manifesto(POLICY, ACCEPTS).check({"name": "A", "avatars": avatars})
    except PermissionDenied as err:
        assert err.reason == "ELIGIBILITY_APPEARANCE"
        return err.metadata["rule"]
    return None


@pytest.mark.parametrize(
    ("avatars", "rule"),
    [
        ([avatar()], None),
        (
            [avatar(Attributes={"Triangles": "1501", "TextureFormats": "image/jpeg", "MaxTexturePx": "10"})],
            "appearance:max_triangles:1500",
        ),
        (
            [avatar(Attributes={"Triangles": "9", "TextureFormats": "image/jpeg", "MaxTexturePx": "1024"})],
            "appearance:max_texture_px:512",
        ),
        ([avatar(Attributes={"Triangles": "9", "TextureFormats": "image/jpeg"})], "appearance:max_texture_px:512"),
        ([avatar(Length=2_000_000)], "appearance:max_bytes:1000000"),
        (
            [avatar(Attributes={"Triangles": "9", "TextureFormats": "image/jpeg,image/webp", "MaxTexturePx": "8"})],
            "appearance:texture_formats:image/jpeg",
        ),
        ([avatar(Format="USDZ/1.0")], "appearance:format"),
        (["mmm://a.example/items/av1"], "appearance:qualifier"),
        ([avatar(), avatar(Format="VRM/0.x")], "appearance:format"),
    ],
)
def test_idir_303_each_limit_of_the_accepted_persona_row_is_a_rule(avatars: object, rule: str | None) -> None:
    assert rule_of(avatars) == rule


def test_idir_303_no_rule_without_the_policy_without_avatars_or_where_the_rows_are_unknown() -> None:
    policy_from_manifesto({}, ACCEPTS).check({"avatars": ["mmm://a.example/items/av1"]})
    policy_from_manifesto(POLICY, ACCEPTS).check({"name": "A"})
    policy_from_manifesto(POLICY).check({"avatars": ["x"]})  # at the home: left to the destination
    with pytest.raises(InvalidInput) as err:
        policy_from_manifesto({"identity.appearance": "pretty"}, ACCEPTS)
    assert (err.value.reason, err.value.metadata["policy"]) == ("POLICY_INVALID", "identity.appearance")


def test_an_avatar_claim_carries_a_persona_qualifier_or_a_reference() -> None:
    profile = IdentityProfile(name="A", birthdate=parse_birthdate("1990-01-01"), avatars=("mmm://x/1", avatar()))
    claims = profile.claims(issued_on=parse_birthdate("2026-01-01"))
    assert claims["avatars"] == ["mmm://x/1", avatar()]
    for bad in ({"ItemID": "x"}, avatar(Colour="red"), avatar(Attributes={"Triangles": 9}), avatar(Length=-1)):
        with pytest.raises(InvalidInput) as err:
            IdentityProfile(name="A", birthdate=parse_birthdate("1990-01-01"), avatars=(bad,)).claims(
                issued_on=parse_birthdate("2026-01-01")
            )
        assert err.value.reason == "PROFILE_INVALID"
