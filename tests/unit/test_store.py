"""The embedded SQLite store: durable across restarts, nothing left behind on failure."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mmmfed.errors import AlreadyExists, DataIntegrityError, TooLarge
from mmmfed.items import DataBinding, build_item
from mmmfed.store import SqliteStore


def _item(data: bytes) -> object:
    return build_item(
        m_instance_id="a.example",
        item_type="ITM",
        qualifier={"SubType": "Persona"},
        data=DataBinding(len(data), hashlib.sha256(data).hexdigest(), "model/gltf-binary"),
        producer_process_id="mmm://a.example/processes/service/test",
    )


def test_items_and_data_survive_a_restart(tmp_path: Path) -> None:
    """An Item and its data stored before closing are there, byte for byte, after reopening."""
    data = b"x" * 3_000_000
    item = _item(data)
    store = SqliteStore(tmp_path)
    with store.stage_blob(expected_size=len(data), expected_sha256=item.data.sha256, max_bytes=10**8) as writer:
        writer.write(data[:1_000_000])
        writer.write(data[1_000_000:])
        blob = writer.finish()
    store.put_item(item, item_type="ITM", owner_id="mmm://a.example/processes/user/u", blob=blob)
    store.close()

    reopened = SqliteStore(tmp_path)
    assert reopened.get_item(item.item_id).raw == item.raw
    assert [i.item_id for i in reopened.find_items(owner_id="mmm://a.example/processes/user/u")] == [item.item_id]
    assert b"".join(reopened.read_blob(item.data.sha256, chunk_bytes=65536)) == data
    assert not blob.path.exists()  # moved out of the staging area
    reopened.close()


def test_staged_data_is_committed_with_its_item(tmp_path: Path) -> None:
    """put_item with a staged blob makes the data readable under its digest."""
    data = bytes(range(256)) * 100
    item = _item(data)
    store = SqliteStore(tmp_path)
    writer = store.stage_blob(expected_size=len(data), expected_sha256=item.data.sha256, max_bytes=10**6)
    writer.write(data)
    store.put_item(item, item_type="ITM", owner_id=None, blob=writer.finish())
    assert b"".join(store.read_blob(item.data.sha256, chunk_bytes=1000)) == data
    with pytest.raises(AlreadyExists) as err:
        store.put_item(item, item_type="ITM", owner_id=None)
    assert err.value.reason == "ALREADY_EXISTS"
    assert len(store.find_items()) == 1


@pytest.mark.parametrize(
    ("declared", "sent", "error", "reason"),
    [
        (10, b"y" * 11, TooLarge, "STREAM_TOO_LARGE"),
        (10, b"y" * 9, DataIntegrityError, "SIZE_MISMATCH"),
        (10, b"z" * 10, DataIntegrityError, "DIGEST_MISMATCH"),
    ],
)
def test_bad_streams_leave_nothing(tmp_path: Path, declared: int, sent: bytes, error: type, reason: str) -> None:
    """Too many, too few or wrong bytes raise a clear error and leave no partial file."""
    store = SqliteStore(tmp_path)
    digest = hashlib.sha256(b"y" * 10).hexdigest()
    # the error may come from write (too many bytes) or from finish (too few, wrong digest)
    with (
        pytest.raises(error) as err,
        store.stage_blob(expected_size=declared, expected_sha256=digest, max_bytes=100) as writer,
    ):
        writer.write(sent)
        writer.finish()
    assert err.value.reason == reason
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == ["tmp"]


def test_declared_size_over_limit_is_refused_before_data(tmp_path: Path) -> None:
    """A declared size above the node's limit is refused before any byte is written."""
    store = SqliteStore(tmp_path)
    with pytest.raises(TooLarge) as err:
        store.stage_blob(expected_size=101, expected_sha256="0" * 64, max_bytes=100)
    assert err.value.reason == "STREAM_TOO_LARGE"
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
