"""Reusable test fixtures of the kernel: a real ``redis-server`` and image builders for
conversion limits. Imports no node package (instance, gateway, bridge); the in-process loopback
federation, which starts nodes, is :mod:`mmmfed.cli.inprocess` (the composition root). Never
imported by production code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class RedisServer:
    """A real ``redis-server`` for tests of the Redis backend (issue 6 item 1): bound to 127.0.0.1
    on a free port, protected mode on, everything it writes (AOF in ``appendonlydir``, its log)
    in ``directory``, no RDB snapshots (``--save ""``), AOF with ``appendfsync always`` (what
    ownership of record needs without WAITAOF; see the README).

    ``start()`` returns once it answers PING (RuntimeError if it cannot start within
    ``start_timeout_s`` seconds; FileNotFoundError if ``redis-server`` is not installed).
    ``stop()`` sends SIGTERM and waits (idempotent); ``kill()`` sends SIGKILL, as a crash would.
    Both keep ``directory``, so ``start()`` again reloads the same AOF on the same port.
    """

    def __init__(
        self,
        directory: Path,
        *,
        executable: str = "redis-server",
        appendfsync: str = "always",
        start_timeout_s: float = 10.0,
    ) -> None:
        self.directory = directory
        self.executable = executable
        self.appendfsync = appendfsync
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self._process: Any = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import shutil
        import socket
        import subprocess
        import time

        binary = shutil.which(self.executable)
        if binary is None:
            raise FileNotFoundError(f"{self.executable} is not installed (Debian: apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # a free port may be taken between choosing and binding it
            if not self.port or attempt:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    self.port = probe.getsockname()[1]
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes"]
            args += ["--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")]
            args += ["--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", ""]
            args += ["--daemonize", "no"]
            self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + self.start_timeout_s
            while self._process.poll() is None and time.monotonic() < deadline:
                if self._answers_ping():
                    return self
                time.sleep(0.02)
            self.stop()
        log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"redis-server did not answer PING on 127.0.0.1:{self.port}: {log}")

    def _answers_ping(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self._end(kill=False)

    def kill(self) -> None:
        self._end(kill=True)

    def _end(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        process.wait(timeout=30)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def solid_png(width_px: int, height_px: int, rgb: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    """An RGB PNG of one colour, written row by row (memory stays at one row: a 12000x12000
    image, 432 MB decoded, is about 0.5 MB encoded). For texture-bomb tests (issue 12 item 6)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + bytes(rgb) * width_px  # filter type 0, then the pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height_px)) + packer.flush()
    header = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def with_texture(glb: bytes, image: bytes, *, mime_type: str = "image/png") -> bytes:
    """``glb`` with its first image's bytes replaced by ``image`` (appended to the BIN chunk in
    a new bufferView; the old one is left unused, which the glTF validator reports as info only)."""
    import json
    import struct

    json_len = struct.unpack_from("<I", glb, 12)[0]
    doc = json.loads(glb[20 : 20 + json_len])
    bin_start = 20 + json_len
    bin_len = struct.unpack_from("<I", glb, bin_start)[0]
    binary = bytearray(glb[bin_start + 8 : bin_start + 8 + bin_len])
    binary += b"\0" * (-len(binary) % 4)
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(image)})
    doc["images"][0] = {"bufferView": len(doc["bufferViews"]) - 1, "mimeType": mime_type}
    binary += image + b"\0" * (-len(image) % 4)
    doc["buffers"][0]["byteLength"] = len(binary)
    body = json.dumps(doc).encode()
    body += b" " * (-len(body) % 4)
    total = 12 + 8 + len(body) + 8 + len(binary)
    return (
        struct.pack("<III", 0x46546C67, 2, total)
        + struct.pack("<II", len(body), 0x4E4F534A)
        + body
        + struct.pack("<II", len(binary), 0x004E4942)
        + bytes(binary)
    )
