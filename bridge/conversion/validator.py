"""Khronos glTF validator (npm ``gltf-validator``) run by Node.js.

FGMV-43 9.1 step 2 AVCF: every input is validated before conversion and every output after it.

:meth:`GltfValidator.validate` (the bridge's path) keeps one long-lived Node.js worker
(``validate_worker.cjs``) and sends it GLB after GLB over a length-framed pipe, so a validation
costs the validator's own work, not Node's start-up (about 350 ms a process). One validation runs
at a time per validator; each has the time limit ``timeout_s``. A worker that stalls past it, dies,
answers out of protocol, or is abandoned by a cancelled caller is killed and a new one starts on
the next validation; a worker is also replaced after ``max_validations_per_worker`` validations, so
no memory it may leak accumulates. :meth:`GltfValidator.validate_sync` (scripts) runs one process
per call (``validate.cjs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bridge.conversion.errors import ValidatorTimeout, ValidatorUnavailable
from mmmfed.errors import TooLarge

_SCRIPT = Path(__file__).with_name("validate.cjs")
_WORKER_SCRIPT = Path(__file__).with_name("validate_worker.cjs")
_MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # a report holds at most max_issues messages
_STDERR_TAIL_BYTES = 2048
DEFAULT_MAX_VALIDATIONS_PER_WORKER = 1000
_PACKAGE = "gltf-validator"
_ENV_VAR = "MMMFED_NODE_MODULES"
_SETUP_HINT = "run `make setup` (or `npm ci` in the project root) to install the glTF validator"
_EXIT_REFUSED = 2
_EXIT_MISSING_PACKAGE = 3
DEFAULT_VALIDATOR_TIMEOUT_S = 60.0
DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024  # BridgeConfig.max_item_bytes' default
_MAX_FRAME_BYTES = 2**32 - 1  # a request frame's 4-byte length


@dataclass(frozen=True)
class ValidationResult:
    """Summary of one validator report.

    Attributes:
        errors, warnings, infos: issue counts (every issue is counted, none capped).
        messages: the first few messages, errors first, as ``"CODE at /pointer: message"``.
    """

    errors: int
    warnings: int
    infos: int
    messages: tuple[str, ...]


def find_node_modules(start_dirs: list[Path] | None = None) -> Path | None:
    """Find the ``node_modules`` folder holding ``gltf-validator``.

    Looks at ``$MMMFED_NODE_MODULES``, then walks up from the working directory and from this
    package's directory (or from ``start_dirs``). Returns None if none is found.
    """
    env = os.environ.get(_ENV_VAR)
    if env:
        return Path(env)
    dirs = start_dirs if start_dirs is not None else [Path.cwd(), Path(__file__).parent]
    for start in dirs:
        for folder in [start.resolve(), *start.resolve().parents]:
            candidate = folder / "node_modules"
            if (candidate / _PACKAGE).is_dir():
                return candidate
    return None


def _close_quietly(stream: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        stream.close()


class _StderrTail:
    """The last bytes a worker wrote to stderr (a crash message), read in a thread so the pipe
    never fills."""

    def __init__(self) -> None:
        self.data = b""

    def read_until_eof(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):  # the pipe was closed by kill()
            while chunk := os.read(stream.fileno(), 4096):
                self.data = (self.data + chunk)[-_STDERR_TAIL_BYTES:]


class _Worker:
    """One running ``validate_worker.cjs`` process, used from one thread at a time (the caller
    holds :attr:`GltfValidator._lock`). Blocking I/O, so it belongs to no event loop: callers
    run :meth:`ask` in a thread (``asyncio.to_thread``)."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        pipe = subprocess.PIPE
        self.proc = subprocess.Popen(cmd, stdin=pipe, stdout=pipe, stderr=pipe, env=env)
        self.validations = 0
        self.timed_out = False
        self._stderr = _StderrTail()
        assert self.proc.stderr is not None
        # The reader holds the stderr pipe, not this worker, so a validator dropped without
        # close() lets its worker be collected; that closes stdin, and the Node.js process ends
        # (Popen itself keeps a running child's pipes open when collected).
        assert self.proc.stdin is not None
        weakref.finalize(self, _close_quietly, self.proc.stdin)
        self._stderr_reader = threading.Thread(
            target=self._stderr.read_until_eof, args=(self.proc.stderr,), name="gltf-validator-stderr", daemon=True
        )
        self._stderr_reader.start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def ended(self, wait_s: float = 1.0) -> tuple[int | None, str]:
        """The exit code (None if still running after ``wait_s`` seconds) and the end of stderr."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(wait_s)
        self._stderr_reader.join(wait_s)
        return self.proc.returncode, self._stderr.data.decode("utf-8", "replace").strip()

    def _read(self, n: int) -> bytes:
        assert self.proc.stdout is not None
        data = self.proc.stdout.read(n)
        if len(data) != n:
            raise EOFError(f"the worker ended after {len(data)} of {n} bytes")
        return data

    def ask(self, data: bytes, timeout_s: float) -> dict[str, Any]:
        """Send one GLB and read its response frame, killing the process after ``timeout_s``
        seconds (then :attr:`timed_out` is set and the read fails). Raises EOFError, OSError
        (the worker ended or its pipe broke) or ValueError (a frame out of protocol)."""
        assert self.proc.stdin is not None
        self.validations += 1
        watchdog = threading.Timer(timeout_s, self._expire)
        watchdog.start()
        try:
            self.proc.stdin.write(len(data).to_bytes(4, "big"))
            self.proc.stdin.write(data)  # apart from its header: no copy of the GLB is made
            self.proc.stdin.flush()
            length = int.from_bytes(self._read(4), "big")
            if length > _MAX_RESPONSE_BYTES:
                raise ValueError(f"a {length}-byte response frame (at most {_MAX_RESPONSE_BYTES})")
            answer = json.loads(self._read(length))
        finally:
            watchdog.cancel()
        if not isinstance(answer, dict):
            raise ValueError("a response frame that is not a JSON object")
        return answer

    def _expire(self) -> None:
        self.timed_out = True
        self.kill()

    def kill(self) -> None:
        """Stop the process at once (a stalled, dead, confused or abandoned worker)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._stderr_reader.join(1.0)  # it ends at EOF, once the process is gone
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self, grace_s: float = 2.0) -> None:
        """End the worker: close its stdin (it exits when stdin ends), kill it after ``grace_s``."""
        if self.alive and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace_s)
        self.kill()


class GltfValidator:
    """Runs the Khronos glTF validator (npm gltf-validator) in a Node.js subprocess.

    Args:
        node_modules_dir: folder holding ``gltf-validator``; found by :func:`find_node_modules`
            when None.
        node: the Node.js executable.
        max_issues: how many messages a report keeps (counts are always complete).
        timeout_s: wall-clock seconds one validation may take; then the process is killed
            (``BridgeConfig.validator_timeout_s``), and the worker restarts on the next validation.
        max_validations_per_worker: validations a worker does before it is replaced.
        max_input_bytes: the largest GLB it validates (``BridgeConfig.max_item_bytes``; at most
            2**32 - 1, a request frame's length).

    Raises (from ``validate``/``validate_sync``):
        ValidatorUnavailable: node or gltf-validator is missing, or the validator crashed.
        ValidatorTimeout: the run took longer than ``timeout_s`` (DEADLINE_EXCEEDED).
        TooLarge: the input is over ``max_input_bytes`` (RESOURCE_EXHAUSTED, nothing is run).

    Call :meth:`close` when done with it (the bridge does when it stops) to end its worker; a
    worker also ends by itself when this process exits (its stdin closes).
    """

    def __init__(
        self,
        *,
        node_modules_dir: str | os.PathLike[str] | None = None,
        node: str = "node",
        max_issues: int = 100,
        timeout_s: float = DEFAULT_VALIDATOR_TIMEOUT_S,
        max_validations_per_worker: int = DEFAULT_MAX_VALIDATIONS_PER_WORKER,
        max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    ) -> None:
        if not 0 < max_input_bytes <= _MAX_FRAME_BYTES:
            raise ValueError(f"max_input_bytes must be in 1..{_MAX_FRAME_BYTES}, not {max_input_bytes}")
        self.max_input_bytes = max_input_bytes
        self._node_modules = Path(node_modules_dir) if node_modules_dir is not None else find_node_modules()
        self._node = node
        self._max_issues = max_issues
        self.timeout_s = timeout_s
        self._max_validations = max_validations_per_worker
        self._worker: _Worker | None = None
        self._lock = threading.Lock()  # one validation at a time on the worker
        self.workers_started = 0  # how many worker processes this validator has started

    def _timed_out(self) -> ValidatorTimeout:
        return ValidatorTimeout(
            f"the glTF validator did not finish within {self.timeout_s} s and was stopped; "
            "the input is too costly to validate (or raise validator_timeout_s)"
        )

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.max_input_bytes:
            raise TooLarge(
                f"{len(data)} bytes is over the {self.max_input_bytes} bytes the glTF validator takes",
                reason="VALIDATOR_INPUT_TOO_LARGE",
            )

    def _command(self) -> tuple[list[str], dict[str, str]]:
        if self._node_modules is None or not (self._node_modules / _PACKAGE).is_dir():
            where = self._node_modules or f"${_ENV_VAR}, the working directory or its parents"
            raise ValidatorUnavailable(f"npm package {_PACKAGE} not found in {where}: {_SETUP_HINT}")
        env = {**os.environ, "NODE_PATH": str(self._node_modules)}
        return [self._node, str(_SCRIPT), str(self._max_issues)], env

    async def validate(self, data: bytes) -> ValidationResult:
        """Validate GLB bytes (FGMV-43 9.1 AVCF) on the warm worker, in a thread: the event loop
        is not blocked.

        Raises ValidatorTimeout after ``timeout_s`` (the worker is killed), ValidatorUnavailable if
        Node.js or gltf-validator is missing or the worker died or broke the protocol while
        validating ``data`` (it is not retried: the same input would break the next one too). A
        cancelled caller's worker is killed (its answer would otherwise be read as the next one's).
        Raises TooLarge (nothing run) for input over ``max_input_bytes``."""
        self._check_size(data)
        try:
            return await asyncio.to_thread(self._validate_on_worker, data)
        except asyncio.CancelledError:
            self._discard()
            raise

    def _validate_on_worker(self, data: bytes) -> ValidationResult:
        with self._lock:
            worker = self._ready_worker()
            try:
                answer = worker.ask(data, self.timeout_s)
            except (EOFError, OSError, ValueError) as err:
                self._discard()
                if worker.timed_out:
                    raise self._timed_out() from err
                returncode, detail = worker.ended()
                if returncode == _EXIT_MISSING_PACKAGE:
                    raise ValidatorUnavailable(f"{detail}; {_SETUP_HINT}") from err
                raise ValidatorUnavailable(
                    f"the glTF validator worker failed on this input ({err}): {detail[-500:]}"
                ) from err
            result = self._from_answer(answer)
            if worker.validations >= self._max_validations:
                self._retire()
            return result

    async def close(self) -> None:
        """End the worker, if one runs (idempotent); waits for a validation under way."""
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """:meth:`close` for scripts and tests without an event loop."""
        with self._lock:
            self._retire()

    def _ready_worker(self) -> _Worker:
        """The running worker, started if there is none (caller holds ``_lock``)."""
        if self._worker is not None and self._worker.alive:
            return self._worker
        self._discard()
        _, env = self._command()
        try:
            self._worker = _Worker([self._node, str(_WORKER_SCRIPT), str(self._max_issues)], env)
        except OSError as err:
            raise ValidatorUnavailable(f"cannot run {self._node!r}: {err}; {_SETUP_HINT}") from err
        self.workers_started += 1
        return self._worker

    def _discard(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()

    def _retire(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()

    def _from_answer(self, answer: dict[str, Any]) -> ValidationResult:
        """A worker's response frame (``validate_worker.cjs``) as a result."""
        if "unavailable" in answer:
            self._discard()  # the worker exits by itself: the next validation starts a new one
            raise ValidatorUnavailable(f"{answer['unavailable']}; {_SETUP_HINT}")
        if "refused" in answer:
            message = f"INVALID_FORMAT at /: {answer['refused']}"
            return ValidationResult(errors=1, warnings=0, infos=0, messages=(message,))
        report = answer.get("report")
        if not isinstance(report, dict):
            self._discard()
            raise ValidatorUnavailable(f"unreadable validator answer: {sorted(answer)}")
        return self._summary(report)

    def validate_sync(self, data: bytes) -> ValidationResult:
        """Blocking variant of :meth:`validate` for scripts and tests (one process per call)."""
        self._check_size(data)
        cmd, env = self._command()
        try:
            proc = subprocess.run(
                cmd, input=data, capture_output=True, env=env, check=False, timeout=self.timeout_s
            )  # on expiry run() kills the process
        except subprocess.TimeoutExpired as err:
            raise self._timed_out() from err
        except OSError as err:
            raise ValidatorUnavailable(f"cannot run {self._node!r}: {err}; {_SETUP_HINT}") from err
        return self._parse(proc.returncode, proc.stdout, proc.stderr)

    def _parse(self, returncode: int | None, stdout: bytes, stderr: bytes) -> ValidationResult:
        detail = stderr.decode("utf-8", "replace").strip()
        if returncode == _EXIT_REFUSED:
            return ValidationResult(errors=1, warnings=0, infos=0, messages=(f"INVALID_FORMAT at /: {detail}",))
        if returncode == _EXIT_MISSING_PACKAGE:
            raise ValidatorUnavailable(f"{detail}; {_SETUP_HINT}")
        if returncode != 0:
            raise ValidatorUnavailable(f"validator exited with {returncode}: {detail[-500:]}")
        try:
            report = json.loads(stdout)
        except ValueError as err:
            raise ValidatorUnavailable(f"unreadable validator report: {err}") from err
        return self._summary(report)

    @staticmethod
    def _summary(report: Any) -> ValidationResult:
        """The validator's report object (``validate.cjs`` / ``validate_worker.cjs``) as a result."""
        try:
            messages = tuple(f"{m['code']} at {m['pointer'] or '/'}: {m['message']}" for m in report["messages"])
            return ValidationResult(
                errors=int(report["numErrors"]),
                warnings=int(report["numWarnings"]),
                infos=int(report["numInfos"]),
                messages=messages,
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValidatorUnavailable(f"unreadable validator report: {err}") from err
