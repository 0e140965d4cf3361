"""Publishing contents through the World and keeping them in the M-Instance's database (ITU
FGMV-43 9.3 step 1, COTF; COIR-101/102), on real files and a real SQLite database."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile
from mmm_helpers import M, User, register_request
from sample_assets import BOX, MORPH_CUBE, needs_samples, needs_sounds, sound_sample

from instance.content.service import ContentService
from instance.content.store import ContentFilter, ContentStore
from instance.database import Database
from instance.process_actions import ProcessActionService
from instance.world.model import Action
from mmmfed.content.kinds import inspect_file, inspect_single
from mmmfed.content.metadata import ContentMetadata
from mmmfed.data_format import STORE_FORMAT
from mmmfed.errors import DataIntegrityError, NotFound, PermissionDenied

ALICE = User("u1").id


class Instance:
    """The World, its Activity Data and the content store in one database file."""

    def __init__(self, path: Path) -> None:
        self.database = Database(path)
        self.process_actions = ProcessActionService(M, database=self.database, resolver=None)
        self.store = ContentStore(self.database)
        self.contents = ContentService(self.process_actions, self.store)

    def close(self) -> None:
        self.database.close()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    inst = Instance(tmp_path / "m-instance.sqlite3")
    response = inst.process_actions.decide(register_request("u1"))
    assert response.status.is_ack, response.status
    yield inst
    inst.close()


def meta(title: str, licence: str = "CC0-1.0", *, tags: tuple[str, ...] = (), creator: str = "") -> ContentMetadata:
    return ContentMetadata.of(title=title, licence=licence, tags=tags, creator=creator)


@needs_samples
def test_cotf_publishing_a_gltf_package_authors_one_item_owned_by_its_user(instance: Instance) -> None:
    """Author Ack: the Item is in the World with the owner's Rights, stored with its parts, and its
    parts come back byte for byte."""
    content = inspect_file(MORPH_CUBE)
    item = instance.contents.publish(ALICE, content, meta("Cube", tags=("cube",)))
    world = instance.process_actions.world
    assert world.items[item.item_id]["ItemParts"] == item.doc["ItemParts"]
    assert item.doc["Trace"][-1]["ProcessID"] == ALICE and item.doc["ICapabilities"][0]["ProcessID"] == ALICE
    assert world.may(ALICE, Action.MODIFY, item.item_id, item_time_ms(item))
    assert instance.contents.get(item.item_id) == (item, ALICE)
    assert instance.contents.package(item.item_id) == content.package


def item_time_ms(item: object) -> int:
    from mmmfed.v22.parts import ms_of_iso

    return ms_of_iso(str(item.doc["Trace"][-1]["Time"]))  # type: ignore[attr-defined]


@needs_samples
def test_cotf_a_user_without_the_author_right_gets_insrights_and_nothing_is_stored(instance: Instance) -> None:
    """u2's Author Right is taken out of the World (as an Account type without it would leave
    it): the World answers InsRights, and no content row or part is written."""
    world = instance.process_actions.world
    assert instance.process_actions.decide(register_request("u2")).status.is_ack
    u2 = User("u2").id
    for right in [r for r in world.rights_of(u2) if r.action is Action.AUTHOR]:
        del world.rights[right.rights_id]
    with pytest.raises(PermissionDenied) as caught:
        instance.contents.publish(u2, inspect_file(BOX), meta("Box", "CC-BY-4.0"))
    assert caught.value.reason == "InsRights"
    assert instance.contents.search(ContentFilter()) == []
    with instance.database.read() as db:
        assert db.execute("SELECT COUNT(*) FROM content_blobs").fetchone() == (0,)


def test_cotf_an_unknown_owner_is_refused(instance: Instance) -> None:
    with pytest.raises(NotFound) as caught:
        instance.contents.publish(f"mmm://{M}/processes/user/nobody", inspect_single("a.txt", b"hi\n"), meta("A"))
    assert caught.value.reason == "USER_NOT_FOUND"


@needs_samples
@needs_sounds
def test_coir_101_contents_are_found_by_kind_tag_creator_and_licence(instance: Instance) -> None:
    cube = instance.contents.publish(ALICE, inspect_file(MORPH_CUBE), meta("Cube", tags=("demo", "cube")))
    bell = instance.contents.publish(
        ALICE,
        inspect_single("bell.oga", sound_sample("bell.oga").read_bytes()),
        meta("Bell", "CC-BY-SA-3.0", tags=("demo",), creator="freedesktop.org"),
    )
    note = instance.contents.publish(ALICE, inspect_single("n.md", b"# Notes\n"), meta("Notes", "MIT"))

    def ids(**where: str) -> list[str]:
        return [found.item.item_id for found in instance.contents.search(ContentFilter(**where))]

    assert ids() == [cube.item_id, bell.item_id, note.item_id]
    assert ids(tag="DEMO") == [cube.item_id, bell.item_id]
    assert ids(kind="Sound") == [bell.item_id] and ids(kind="Text") == [note.item_id]
    assert ids(creator="freedesktop.org") == [bell.item_id] and ids(licence="MIT") == [note.item_id]
    assert ids(tag="demo", licence="MIT") == [] and ids(owner=ALICE) == ids()


@needs_samples
def test_cotf_contents_survive_a_restart_in_the_world_and_the_store(tmp_path: Path) -> None:
    """Activity Data replay gives the World its Item again; the store keeps Item and parts; the
    database carries the store format stamp."""
    path = tmp_path / "m-instance.sqlite3"
    first = Instance(path)
    assert first.process_actions.decide(register_request("u1")).status.is_ack
    item = first.contents.publish(ALICE, inspect_file(MORPH_CUBE), meta("Cube"))
    first.close()
    again = Instance(path)
    try:
        assert again.process_actions.world.items[item.item_id]["ItemParts"] == item.doc["ItemParts"]
        assert again.contents.package(item.item_id) == inspect_file(MORPH_CUBE).package
    finally:
        again.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (STORE_FORMAT,)


@needs_sounds
def test_cotf_a_part_changed_in_the_database_is_never_served(instance: Instance) -> None:
    samples, rate = soundfile.read(io.BytesIO(sound_sample("complete.oga").read_bytes()), dtype="int16")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="FLAC")
    item = instance.contents.publish(ALICE, inspect_single("complete.flac", out.getvalue()), meta("Complete"))
    with instance.database.write() as db:
        db.execute("UPDATE content_blobs SET data = ?", (b"not the sound",))
    with pytest.raises(DataIntegrityError):
        instance.contents.package(item.item_id)
