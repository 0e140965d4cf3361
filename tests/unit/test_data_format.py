"""The data-dir format (issue 15 item 5, :mod:`mmmfed.data_format`): every durable store a node
opens is stamped when new, opens when stamped with this release's format, and refuses any other
(FailedPrecondition ``DATA_DIR_FORMAT``) without changing a byte of it; real files in tmp_path and
a real redis-server."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bridge.identity import VIRTUAL_BRIDGES_FILE, VirtualBridgeStore
from instance.database import FILE_NAME, Database
from instance.node import InstanceNode
from mmmfed.audit import SqliteAuditLog
from mmmfed.config import FeatureConfig, InstanceConfig, ManifestoConfig, StoreConfig
from mmmfed.data_format import DATA_DIR_FILES, STORE_FORMAT, check_store_format, peek_sqlite_format
from mmmfed.datadir import DataDirLock
from mmmfed.errors import FailedPrecondition
from mmmfed.items import FORMAT_VRM_1
from mmmfed.preflight import check_data_dir_format
from mmmfed.store import SqliteStore, embedded_state
from mmmfed.store.redis import open_redis_state
from mmmfed.testing import RedisServer


def _store(d: Path) -> None:
    s = SqliteStore(d)
    s.put_document("ns", "k", b"v")
    s.close()


def _database(d: Path) -> None:
    db = Database.in_dir(d)
    db.ensure_schema("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    db.close()


def _audit(d: Path) -> None:
    log = SqliteAuditLog(d / "audit.sqlite3")
    log.append("TEST", peer_id="p", subject="s")
    log.close()


def _bridges(d: Path) -> None:
    VirtualBridgeStore(d / VIRTUAL_BRIDGES_FILE).close()


# store name: (how a node opens and writes it in data_dir, its file)
STORES: dict[str, tuple[Callable[[Path], None], str]] = {
    "item store": (_store, "store.sqlite3"),
    "m-instance database": (_database, FILE_NAME),
    "audit log": (_audit, "audit.sqlite3"),
    "virtual bridges": (_bridges, VIRTUAL_BRIDGES_FILE),
}


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _set_user_version(path: Path, version: int) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.close()


def _fingerprint(d: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(d)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in d.rglob("*")
        if p.is_file()
    }


def test_every_store_file_a_node_keeps_is_one_preflight_knows() -> None:
    assert {file for _, file in STORES.values()} == set(DATA_DIR_FILES)


@pytest.mark.parametrize("name", sorted(STORES))
def test_a_new_store_is_stamped_and_opens_again(tmp_path: Path, name: str) -> None:
    write, file = STORES[name]
    write(tmp_path)
    assert _user_version(tmp_path / file) == STORE_FORMAT
    write(tmp_path)  # reopening a store of this format works
    assert _user_version(tmp_path / file) == STORE_FORMAT
    assert peek_sqlite_format(str(tmp_path / file)) == STORE_FORMAT
    check_data_dir_format(tmp_path)


@pytest.mark.parametrize("stamp", [0, 1, 3])
@pytest.mark.parametrize("name", sorted(STORES))
def test_a_store_of_another_format_is_refused_and_left_unchanged(tmp_path: Path, name: str, stamp: int) -> None:
    """0: written by a release before stores carried a stamp (old Item shape); 1: the old shape
    stamped; 3: a newer release's."""
    write, file = STORES[name]
    write(tmp_path)
    _set_user_version(tmp_path / file, stamp)
    before = _fingerprint(tmp_path)
    with pytest.raises(FailedPrecondition) as refused:
        write(tmp_path)
    err = refused.value
    found = 1 if stamp == 0 else stamp
    assert err.reason == "DATA_DIR_FORMAT"
    assert err.metadata == {"path": str(tmp_path / file), "found": str(found), "expected": str(STORE_FORMAT)}
    assert str(tmp_path / file) in err.message and "new data_dir" in err.message
    assert f"format {found}" in err.message and f"reads only format {STORE_FORMAT}" in err.message
    with pytest.raises(FailedPrecondition, match="DATA_DIR_FORMAT"):  # what `mmmfed config check` reports
        check_data_dir_format(tmp_path)
    assert _fingerprint(tmp_path) == before  # not a byte, not a file, not an mtime changed


def test_an_old_table_written_directly_is_the_old_format(tmp_path: Path) -> None:
    """A store.sqlite3 as the release before this one left it: its tables, no stamp."""
    db = sqlite3.connect(tmp_path / "store.sqlite3")
    db.execute("CREATE TABLE items (item_id TEXT PRIMARY KEY, item_type TEXT NOT NULL, item_json BLOB NOT NULL)")
    db.execute("INSERT INTO items VALUES ('urn:x', 'Avatar', '{\"Header\": \"MMM-ITM-V2.2\"}')")
    db.commit()
    db.close()
    before = _fingerprint(tmp_path)
    with pytest.raises(FailedPrecondition, match="no format stamp"):
        SqliteStore(tmp_path)
    assert _fingerprint(tmp_path) == before
    assert not (tmp_path / "blobs").exists()  # nothing made in the data_dir either


def test_the_gateway_embedded_state_refuses_an_old_audit_log_and_leaves_nothing_open(tmp_path: Path) -> None:
    _audit(tmp_path)
    _set_user_version(tmp_path / "audit.sqlite3", 0)
    with pytest.raises(FailedPrecondition, match="audit log"):
        embedded_state(tmp_path)
    assert not (tmp_path / "store.sqlite3-wal").exists()  # the store opened first was closed again


def test_an_instance_node_on_an_old_data_dir_refuses_and_lets_go_of_it(tmp_path: Path) -> None:
    """The node itself (a config built in code, no preflight): its Item store opens and is new,
    its M-Instance database is old; it refuses, closes what it opened and releases the lock."""
    data = tmp_path / "data"
    _database(data)
    _set_user_version(data / FILE_NAME, 0)
    config = InstanceConfig.model_validate(
        {
            "m_instance_id": "a.example",
            "tls_name": "instance.a.example",
            "data_dir": str(data),
            "tls": {"ca_cert": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
            "manifesto": ManifestoConfig(produces=[FeatureConfig(format=FORMAT_VRM_1)], accepts=[]).model_dump(),
        }
    )
    with pytest.raises(FailedPrecondition) as refused:
        InstanceNode(config)
    assert refused.value.reason == "DATA_DIR_FORMAT" and str(data / FILE_NAME) in refused.value.message
    DataDirLock(data).release()  # not held any more (DATA_DIR_LOCKED otherwise)
    assert not (data / "store.sqlite3-wal").exists()  # the store it opened first is closed


def test_an_in_memory_database_is_this_format() -> None:
    db = Database(":memory:")
    with db.read() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_FORMAT
    db.close()


def test_preflight_leaves_an_open_store_to_the_store(tmp_path: Path) -> None:
    """A store with its -wal there is in use or was not closed cleanly: the main file alone may
    not say its format, so preflight does not read it (the store's own open checks it)."""
    store = SqliteStore(tmp_path)
    try:
        _set_user_version(tmp_path / "store.sqlite3", 0)  # its WAL is there while the store is open
        check_data_dir_format(tmp_path)
        with pytest.raises(sqlite3.OperationalError, match="not closed cleanly"):
            peek_sqlite_format(str(tmp_path / "store.sqlite3"))
    finally:
        store.close()


def test_the_check_itself() -> None:
    check_store_format(None, what="a store", path="p")
    check_store_format(STORE_FORMAT, what="a store", path="p")
    for found, said in [(1, "pre-V2.2 envelope"), (3, "newer release"), (0, "unknown")]:
        with pytest.raises(FailedPrecondition, match=said):
            check_store_format(found, what="a store", path="p")


async def _start(server: RedisServer, prefix: str = "mmmfed") -> None:
    state, _audit = open_redis_state(
        StoreConfig(backend="redis", redis_url=server.url, redis_key_prefix=prefix), m_instance_id="b.example"
    )
    try:
        await state.start()
    finally:
        await state.close()


async def test_redis_a_new_key_space_is_stamped_and_starts_again(redis_server: RedisServer) -> None:
    await _start(redis_server)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await client.get("mmmfed:{b.example}:format") == str(STORE_FORMAT).encode()
        await _start(redis_server)
        assert await client.get("mmmfed:{b.example}:format") == str(STORE_FORMAT).encode()
        await client.hset("other:{b.example}:doc:x", "k", "v")  # another prefix: its own key space
        await _start(redis_server, prefix="fresh")
        assert await client.get("fresh:{b.example}:format") == str(STORE_FORMAT).encode()
    finally:
        await client.aclose()


@pytest.mark.parametrize("stamp", [None, b"1", b"3"])
async def test_redis_another_format_is_refused_and_nothing_written(
    redis_server: RedisServer, stamp: bytes | None
) -> None:
    """None: keys a release before stamping wrote (format 1); b"1", b"3": stamped another format."""
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        await client.hset("mmmfed:{b.example}:doc:agreements", "a.example", b"{}")
        if stamp is not None:
            await client.set("mmmfed:{b.example}:format", stamp)
        before = {k: await client.dump(k) for k in sorted(await client.keys("*"))}
        with pytest.raises(FailedPrecondition) as refused:
            await _start(redis_server)
        assert refused.value.reason == "DATA_DIR_FORMAT"
        found = "1" if stamp is None else stamp.decode()
        assert refused.value.metadata == {
            "path": "mmmfed:{b.example}:format",
            "found": found,
            "expected": str(STORE_FORMAT),
        }
        assert {k: await client.dump(k) for k in sorted(await client.keys("*"))} == before
    finally:
        await client.aclose()
