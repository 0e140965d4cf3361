"""Private files stay private (issue 12 item 6): key files are 0600 even when the file already
existed with a wider mode or the umask is wide, and temporary files and directories are 0600 /
0700, never a fixed name in the shared /tmp."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.servicer import BridgeServicer
from certs import NodeRole, issue_node, make_ca, write_private
from mmmfed.keyfile import write_key_files
from mmmfed.keys import InstanceKeyStore
from mmmfed.proofs import SigningKey
from mmmfed.store.base import BlobWriter


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def wide_umask() -> Iterator[None]:
    """A umask that takes nothing away, as a careless service manager might set."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_an_existing_world_readable_node_key_ends_up_0600(tmp_path: Path) -> None:
    """A node key file that already existed as 0644 is 0600 once the PKI writes a key over it."""
    key = tmp_path / "gateway.x.example.key"
    key.write_bytes(b"old")
    key.chmod(0o644)
    _, ca_cert, ca_key = make_ca("x.example")
    write_private(key, issue_node(ca_cert, ca_key, "gateway.x.example", NodeRole.GATEWAY).key_pem)
    assert mode(key) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN")


@pytest.mark.usefixtures("wide_umask")
def test_signing_keys_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    """`keys generate` files and an instance's rotated keys are 0600 under umask 0."""
    private, public = write_key_files(tmp_path / "k.pem", SigningKey.generate(), created="2026-12-02T00:00:00Z")
    assert mode(private) == 0o600
    assert mode(public) == 0o644
    store = InstanceKeyStore(tmp_path / "keys", "a.example")
    record = store.rotate()
    assert mode(tmp_path / "keys" / f"{record.key_id}.pem") == 0o600


@pytest.mark.usefixtures("wide_umask")
def test_staged_data_is_private(tmp_path: Path) -> None:
    """A stream being staged is a 0600 file in a 0700 directory, even under umask 0."""
    writer = BlobWriter(tmp_path / "tmp", expected_size=None, expected_sha256=None, max_bytes=10)
    try:
        assert mode(tmp_path / "tmp") == 0o700
        assert mode(writer.path) == 0o600
    finally:
        writer.abort()


def test_the_bridge_stages_in_a_private_directory_of_its_own() -> None:
    """Each bridge servicer stages conversions in its own new 0700 directory, removed at close."""
    first, second = BridgeServicer(None, max_item_bytes=1), BridgeServicer(None, max_item_bytes=1)  # type: ignore[arg-type]
    try:
        assert first._tmp != second._tmp
        assert mode(first._tmp) == 0o700
    finally:
        first.close()
        second.close()
    assert not first._tmp.exists()
