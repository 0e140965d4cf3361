"""A content that migrated here (ITU FGMV-43 9.3 step 4; COIR-302): stored all or nothing under
its home ItemID, once, with its ICapabilities held as Rights of this World, again after a
restart; on a real .gltf package and real SQLite databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mmm_helpers import M, User, register_request
from sample_assets import MORPH_CUBE, needs_samples

from instance.content.imports import ContentImports
from instance.content.service import ContentService
from instance.content.store import ContentStore
from instance.database import Database
from instance.process_actions import ProcessActionService
from instance.world.model import Action
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.content.kinds import inspect_file
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.transfer import part_bytes
from mmmfed.errors import DataIntegrityError, InvalidInput, PermissionDenied
from mmmfed.items import Item, item_of

pytestmark = needs_samples
B = "b.example"
ALICE = User("u1").id
NOW = 2_000_000_000_000


class Peer:
    """b.example's World and content store in one database file."""

    def __init__(self, path: Path) -> None:
        self.database = Database(path)
        self.process_actions = ProcessActionService(B, database=self.database, resolver=None)
        self.store = ContentStore(self.database)
        self.imports = ContentImports(self.process_actions, self.store)

    def close(self) -> None:
        self.database.close()


def _published(tmp_path: Path) -> tuple[Item, list[bytes]]:
    """A .gltf package published at M by alice: its Item and the chunks that send it."""
    database = Database(tmp_path / "home.sqlite3")
    process_actions = ProcessActionService(M, database=database, resolver=None)
    assert process_actions.decide(register_request("u1")).status.is_ack
    contents = ContentService(process_actions, ContentStore(database))
    content = inspect_file(MORPH_CUBE)
    item = contents.publish(ALICE, content, ContentMetadata.of(title="Cube", licence="CC0-1.0"))
    chunks = list(part_bytes(content.package))
    database.close()
    return item, chunks


def _header(item: Item, *, origin: str = M, owner: str = ALICE) -> cpb.ContentTransferHeader:
    return cpb.ContentTransferHeader(
        transfer_id="urn:uuid:1",
        item=itpb.ItemEnvelope(item_json=item.raw),
        owner_process_id=owner,
        origin_m_instance_id=origin,
    )


async def _stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_fgmv43_9_3_step_4_stored_once_under_its_home_id_with_its_rights_after_a_restart(tmp_path: Path) -> None:
    item, chunks = _published(tmp_path)
    peer = Peer(tmp_path / "b.sqlite3")
    first = await peer.imports.receive(_header(item), _stream(chunks))
    assert not first.already_held and first.bytes == sum(len(c) for c in chunks)
    again = await peer.imports.receive(_header(item), _stream(chunks))
    assert again.already_held and again.content.item.item_json == item.raw
    assert peer.store.home_of(item.item_id) == M and len(peer.store.migrated_here()) == 1
    assert peer.process_actions.world.may(ALICE, Action.MODIFY, item.item_id, NOW)
    peer.close()
    restarted = Peer(tmp_path / "b.sqlite3")
    world = restarted.process_actions.world
    assert world.may(ALICE, Action.MODIFY, item.item_id, NOW) and item.item_id in world.items
    assert not world.may(User("u2").id, Action.MODIFY, item.item_id, NOW)
    restarted.close()


@pytest.mark.parametrize(
    ("change", "error", "reason"),
    [
        ("byte", DataIntegrityError, "DIGEST_MISMATCH"),
        ("short", DataIntegrityError, "SIZE_MISMATCH"),
        ("origin", PermissionDenied, "ORIGIN_MISMATCH"),
        ("owner", PermissionDenied, "ORIGIN_MISMATCH"),
    ],
)
async def test_fgmv43_9_3_step_4_a_refusal_stores_nothing(
    tmp_path: Path, change: str, error: type[Exception], reason: str
) -> None:
    item, chunks = _published(tmp_path)
    header = _header(item)
    if change == "byte":
        chunks[-1] = chunks[-1][:-1] + bytes([chunks[-1][-1] ^ 1])
    elif change == "short":
        chunks[-1] = chunks[-1][:-1]
    elif change == "origin":
        header = _header(item, origin="c.example")
    else:
        header = _header(item, owner=f"mmm://{B}/processes/user/u1")
    peer = Peer(tmp_path / "b.sqlite3")
    with pytest.raises(error) as refused:
        await peer.imports.receive(header, _stream(chunks))
    assert getattr(refused.value, "reason", "") == reason
    assert not peer.store.has(item.item_id) and item.item_id not in peer.process_actions.world.items
    peer.close()


async def test_fgmv43_9_3_step_4_an_item_that_is_not_a_content_is_refused(tmp_path: Path) -> None:
    item, chunks = _published(tmp_path)
    doc = dict(item.doc)
    doc.pop("ItemParts")
    peer = Peer(tmp_path / "b.sqlite3")
    with pytest.raises(InvalidInput) as refused:
        await peer.imports.receive(_header(item_of(doc)), _stream(chunks))
    assert refused.value.reason == "NOT_CONTENT"
    peer.close()
