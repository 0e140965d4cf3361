"""A node's hold on its data dir: an exclusive lock on ``<data_dir>/.lock`` for the node's
lifetime, so a second node started on the same data dir refuses to start instead of sharing (and
corrupting) the first one's state (issue 12 item 6).

``fcntl.flock`` locks belong to the open file: the kernel drops them when the process exits, so
a crashed node leaves no stale lock behind, and two nodes in one process exclude each other too.
The lock is held by a file object, so a node whose constructor fails after taking it releases it
when the object is collected, without a ``try`` around the whole constructor.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from mmmfed.errors import MmmfedError

LOCK_FILE = ".lock"


class DataDirLock:
    """An exclusive, non-blocking lock on ``data_dir/.lock`` (the directory is made if missing).

    Raises:
        MmmfedError(``DATA_DIR_LOCKED``): another node (this process or another) holds it; the
            lock file names that holder's pid.
    """

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / LOCK_FILE
        file = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+b", buffering=0)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = file.read(32).decode(errors="replace").strip() or "unknown"
            file.close()
            raise MmmfedError(
                f"data dir {data_dir} is held by another node (pid {holder}, lock {self.path}); "
                "stop that node or give this one its own data_dir",
                reason="DATA_DIR_LOCKED",
                metadata={"data_dir": str(data_dir)},
            ) from err
        file.truncate(0)
        file.write(f"{os.getpid()}\n".encode())
        self._file: BinaryIO | None = file

    def release(self) -> None:
        """Release the lock (idempotent)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()  # closing the only descriptor releases the flock
