"""The pure parts of avatar synchronisation (instance/avatar_sync.py; FGMV-43 9.1 steps 5-7):
what a change of appearance makes of the attachments (AVIR-303: one outfit, accessories added and
removed), and the bounds and shape a peer's roaming change must keep (AVIR-301)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from instance.avatar_sync import MAX_ATTACHMENTS, _apply, check_change
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.errors import InvalidInput, NotFound, TooLarge
from mmmfed.items import DataBinding, Item, build_item

A = "a.example"


def _items(*names: str) -> dict[str, Item]:
    return {
        n: build_item(
            m_instance_id=A,
            item_type="ITM",
            qualifier={"SubType": "Model", "Format": "glTF/2.0-binary"},
            data=DataBinding(3, "ab" * 32, "model/gltf-binary"),
            producer_process_id=f"mmm://{A}/processes/user/alice",
            descr={"Name": n},
        )
        for n in names
    }


def _lookup(items: dict[str, Item]) -> Callable[[str], Item]:
    by_id = {i.item_id: i for i in items.values()}

    def lookup(item_id: str) -> Item:
        if item_id not in by_id:
            raise NotFound(f"no Item {item_id}", reason="ITEM_NOT_FOUND")
        return by_id[item_id]

    return lookup


def _ref(item: Item, slot: str) -> spb.AttachmentRef:
    return spb.AttachmentRef(item_id=item.item_id, slot=slot)


def test_a_new_outfit_replaces_the_last_and_accessories_add_up_and_come_off() -> None:
    items = _items("hat", "coat", "cape", "ring")
    lookup = _lookup(items)
    worn = _apply(
        [], spb.ChangeAppearanceRequest(attach=[_ref(items["hat"], "accessory"), _ref(items["coat"], "outfit")]), lookup
    )
    worn = _apply(
        worn,
        spb.ChangeAppearanceRequest(attach=[_ref(items["cape"], "outfit"), _ref(items["ring"], "accessory")]),
        lookup,
    )
    name = {i.item_id: n for n, i in items.items()}
    assert [(name[a.item_id], a.slot) for a in worn] == [
        ("hat", "accessory"),
        ("cape", "outfit"),
        ("ring", "accessory"),
    ]
    assert all(a.digest == "ab" * 32 and b'"SubType":"Model"' in a.qualifier_json for a in worn)
    worn = _apply(worn, spb.ChangeAppearanceRequest(detach_item_ids=[items["hat"].item_id]), lookup)
    assert [name[a.item_id] for a in worn] == ["cape", "ring"]


def test_an_unknown_slot_an_item_not_held_and_too_many_attachments_are_refused() -> None:
    items = _items(*(f"a{i}" for i in range(MAX_ATTACHMENTS + 1)))
    lookup = _lookup(items)
    with pytest.raises(InvalidInput) as bad_slot:
        _apply([], spb.ChangeAppearanceRequest(attach=[_ref(items["a0"], "shoes")]), lookup)
    assert bad_slot.value.reason == "ATTACHMENT_SLOT_UNKNOWN"
    with pytest.raises(NotFound) as missing:
        _apply(
            [],
            spb.ChangeAppearanceRequest(attach=[spb.AttachmentRef(item_id="mmm://a.example/x", slot="outfit")]),
            lookup,
        )
    assert missing.value.reason == "ITEM_NOT_FOUND"
    with pytest.raises(TooLarge) as crowded:
        _apply([], spb.ChangeAppearanceRequest(attach=[_ref(i, "accessory") for i in items.values()]), lookup)
    assert crowded.value.reason == "TOO_MANY_ATTACHMENTS"


def _change(**fields: object) -> spb.RoamingChange:
    base: dict[str, object] = {
        "change_id": f"urn:uuid:{uuid.uuid4()}",
        "visit_id": "urn:uuid:v",
        "home_user_process_id": "u",
    }
    return spb.RoamingChange(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"change_id": "not-a-urn"}, "ROAMING_CHANGE_MALFORMED"),
        ({"visit_id": ""}, "ROAMING_CHANGE_MALFORMED"),
        ({"attachments": [spb.AvatarAttachment(item_id="x", slot="hat")]}, "ROAMING_CHANGE_MALFORMED"),
        (
            {"attachments": [spb.AvatarAttachment(item_id="x", slot="outfit", qualifier_json=b"[1]")]},
            "ROAMING_CHANGE_MALFORMED",
        ),
        ({"activity_json": [b"\xff"]}, "ROAMING_CHANGE_MALFORMED"),
        ({"activity_json": [b'{"ItemType":"ACD"}'] * 65}, "ROAMING_CHANGE_TOO_LARGE"),
        ({"activity_json": [b"x" * 9000]}, "ROAMING_CHANGE_TOO_LARGE"),
        ({"attachments": [spb.AvatarAttachment(item_id="x", slot="outfit")] * 17}, "ROAMING_CHANGE_TOO_LARGE"),
    ],
)
def test_a_roaming_change_out_of_shape_or_bounds_is_refused(fields: dict[str, object], reason: str) -> None:
    with pytest.raises((InvalidInput, TooLarge)) as refused:
        check_change(_change(**fields))
    assert refused.value.reason == reason


def test_a_well_formed_roaming_change_passes() -> None:
    check_change(
        _change(activity_json=[b'{"ItemType":"ACD"}'], attachments=[spb.AvatarAttachment(item_id="x", slot="outfit")])
    )


def test_a_new_persona_at_home_is_a_new_version_wearing_what_the_last_wore(tmp_path: Path) -> None:
    """The home avatar's history follows its Persona: registered again, the next version names the
    new Persona, with the last version as parent and its attachments."""
    from typing import Any, cast

    from instance.avatar_sync import AvatarSync
    from instance.database import Database

    items = _items("first", "second", "hat")
    current = {"persona": items["first"]}
    sync = AvatarSync(
        Database.in_dir(tmp_path),
        A,
        lookup=_lookup(items),
        persona_of=lambda _user: current["persona"],
        migrations=cast(Any, None),  # not reached: no roaming change here
        activity=cast(Any, None),
    )
    user = f"mmm://{A}/processes/user/alice"
    sync.change(spb.ChangeAppearanceRequest(user_process_id=user, attach=[_ref(items["hat"], "accessory")]))
    current["persona"] = items["second"]
    head = sync.head(user)
    assert (head.version, head.parent_version, head.persona_id) == (3, 2, items["second"].item_id)
    assert [a.item_id for a in head.attachments] == [items["hat"].item_id]
    assert [v.persona_id for v in sync.history(user).versions] == [items["first"].item_id] * 2 + [
        items["second"].item_id
    ]
