"""What a bridge keeps in its data_dir so that it is the same bridge after a restart (issue 12
item 5): its signing key and its virtual bridges (FGMV-43 MBMF).

* ``DATA_DIR/signing-key.pem`` (+ ``signing-key.pub.json``): the Ed25519 key that signs manifesto
  V and converted Items, made once (mode 0600, mmmfed/keyfile.py format, as ``mmmfed keys
  generate`` writes) and loaded at every start. Its did:key is what the bridge's certificate must
  bind (:func:`bridge_key_and_did`, called before the certificate is issued).
* ``DATA_DIR/virtual-bridges.sqlite``: every virtual bridge the bridge made, one row each,
  written (WAL, synchronous FULL) before its id is handed out, so a Convert naming it after a
  restart finds it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mmmfed.config import BridgeConfig
from mmmfed.data_format import open_checked
from mmmfed.errors import InvalidInput
from mmmfed.items import proof_time
from mmmfed.keyfile import load_signing_key, write_key_files
from mmmfed.proofs import SigningKey

KEY_FILE = "signing-key.pem"
VIRTUAL_BRIDGES_FILE = "virtual-bridges.sqlite"


def bridge_key(data_dir: Path) -> SigningKey:
    """The bridge's key in ``data_dir/signing-key.pem``, made there (0600) the first time.

    Raises InvalidInput ``KEY_FILE_INVALID`` for a file that is not an Ed25519 key,
    AlreadyExists ``KEY_FILE_EXISTS`` when only the public half is there, OSError for a data_dir
    that cannot be made or written.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / KEY_FILE
    if not path.exists():
        write_key_files(path, SigningKey.generate(), created=proof_time())
    return load_signing_key(path)


def configured_key(config: BridgeConfig) -> SigningKey:
    """The key a configured bridge signs with: ``config.signing_key`` when set, else the one in
    ``config.data_dir`` (made the first time). InvalidInput ``KEY_FILE_INVALID`` or
    ``DATA_DIR_INVALID`` (a data_dir that cannot be made or read), naming the path."""
    if config.signing_key:
        return load_signing_key(config.signing_key)
    try:
        return bridge_key(config.data_dir)
    except OSError as err:
        raise InvalidInput(f"cannot use data_dir {config.data_dir}: {err}", reason="DATA_DIR_INVALID") from err


def bridge_key_and_did(data_dir: Path) -> str:
    """The did:key (``did:key:z6Mk...``) of the bridge key in ``data_dir``, making the key if
    need be: what a bridge certificate binds as URI subjectAltName (``certs.issue_node(...,
    extra_uris=[did])``). Errors as :func:`bridge_key`."""
    return bridge_key(data_dir).did


@dataclass(frozen=True)
class VirtualBridge:
    """One virtual bridge: its id, the M-Instance whose Items it converts, the one it converts
    them for, and when it was made (Unix ms)."""

    vb_id: str
    from_m_instance_id: str
    to_m_instance_id: str
    created_at_ms: int


class VirtualBridgeStore:
    """Virtual bridges of one bridge node in SQLite (module docstring); ``close()`` when done.

    Raises InvalidInput ``DATA_DIR_INVALID`` at opening when the file is not such a database or
    its directory cannot be made (it is made, mode 0700, when missing); FailedPrecondition
    ``DATA_DIR_FORMAT`` when it holds another data-dir format (:mod:`mmmfed.data_format`; left
    unchanged, a new file is stamped).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as err:
            raise InvalidInput(f"cannot make {path.parent}: {err.strerror}", reason="DATA_DIR_INVALID") from err
        try:
            # DATA_DIR_FORMAT before anything is written: a file of another format is left as it is.
            self._db = open_checked(str(path), what="the bridge's virtual bridge database")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS virtual_bridges (vb_id TEXT PRIMARY KEY, from_id TEXT NOT NULL, "
                "to_id TEXT NOT NULL, created_at_ms INTEGER NOT NULL)"
            )
        except sqlite3.DatabaseError as err:
            raise InvalidInput(
                f"cannot use {path} as the bridge's virtual bridge database ({err}); move it away or fix data_dir",
                reason="DATA_DIR_INVALID",
            ) from err

    def add(self, vb: VirtualBridge) -> None:
        """Record ``vb`` durably (one INSERT; an id already there raises sqlite3.IntegrityError)."""
        self._db.execute(
            "INSERT INTO virtual_bridges (vb_id, from_id, to_id, created_at_ms) VALUES (?, ?, ?, ?)",
            (vb.vb_id, vb.from_m_instance_id, vb.to_m_instance_id, vb.created_at_ms),
        )

    def get(self, vb_id: str) -> VirtualBridge | None:
        """The virtual bridge ``vb_id``, or None."""
        row = self._db.execute(
            "SELECT vb_id, from_id, to_id, created_at_ms FROM virtual_bridges WHERE vb_id = ?", (vb_id,)
        ).fetchone()
        return VirtualBridge(*row) if row else None

    def close(self) -> None:
        """Close the database (idempotent)."""
        self._db.close()
