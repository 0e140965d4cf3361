"""Khronos glTF validator (npm ``gltf-validator``) run in a Node.js subprocess.

FGMV-43 9.1 step 2 AVCF: every input is validated before conversion and every output after it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bridge.conversion.errors import ValidatorTimeout, ValidatorUnavailable

_SCRIPT = Path(__file__).with_name("validate.cjs")
_PACKAGE = "gltf-validator"
_ENV_VAR = "MMMFED_NODE_MODULES"
_SETUP_HINT = "run `make setup` (or `npm ci` in the project root) to install the glTF validator"
_EXIT_REFUSED = 2
_EXIT_MISSING_PACKAGE = 3
DEFAULT_VALIDATOR_TIMEOUT_S = 60.0


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


class GltfValidator:
    """Runs the Khronos glTF validator (npm gltf-validator) in a Node.js subprocess.

    Args:
        node_modules_dir: folder holding ``gltf-validator``; found by :func:`find_node_modules`
            when None.
        node: the Node.js executable.
        max_issues: how many messages a report keeps (counts are always complete).
        timeout_s: wall-clock seconds one run may take; then the process is killed (issue 12
            item 6; ``BridgeConfig.validator_timeout_s``).

    Raises (from ``validate``/``validate_sync``):
        ValidatorUnavailable: node or gltf-validator is missing, or the validator crashed.
        ValidatorTimeout: the run took longer than ``timeout_s`` (DEADLINE_EXCEEDED).
    """

    def __init__(
        self,
        *,
        node_modules_dir: str | os.PathLike[str] | None = None,
        node: str = "node",
        max_issues: int = 100,
        timeout_s: float = DEFAULT_VALIDATOR_TIMEOUT_S,
    ) -> None:
        self._node_modules = Path(node_modules_dir) if node_modules_dir is not None else find_node_modules()
        self._node = node
        self._max_issues = max_issues
        self.timeout_s = timeout_s

    def _timed_out(self) -> ValidatorTimeout:
        return ValidatorTimeout(
            f"the glTF validator did not finish within {self.timeout_s} s and was stopped; "
            "the input is too costly to validate (or raise validator_timeout_s)"
        )

    def _command(self) -> tuple[list[str], dict[str, str]]:
        if self._node_modules is None or not (self._node_modules / _PACKAGE).is_dir():
            where = self._node_modules or f"${_ENV_VAR}, the working directory or its parents"
            raise ValidatorUnavailable(f"npm package {_PACKAGE} not found in {where}: {_SETUP_HINT}")
        env = {**os.environ, "NODE_PATH": str(self._node_modules)}
        return [self._node, str(_SCRIPT), str(self._max_issues)], env

    async def validate(self, data: bytes) -> ValidationResult:
        """Validate GLB bytes (FGMV-43 9.1 AVCF); the event loop is not blocked."""
        cmd, env = self._command()
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as err:
            raise ValidatorUnavailable(f"cannot run {self._node!r}: {err}; {_SETUP_HINT}") from err
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(data), self.timeout_s)
        except (asyncio.CancelledError, TimeoutError) as err:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if isinstance(err, TimeoutError):
                raise self._timed_out() from err
            raise
        return self._parse(proc.returncode, stdout, stderr)

    def validate_sync(self, data: bytes) -> ValidationResult:
        """Blocking variant of :meth:`validate` for scripts and tests."""
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
            messages = tuple(f"{m['code']} at {m['pointer'] or '/'}: {m['message']}" for m in report["messages"])
            return ValidationResult(
                errors=int(report["numErrors"]),
                warnings=int(report["numWarnings"]),
                infos=int(report["numInfos"]),
                messages=messages,
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValidatorUnavailable(f"unreadable validator report: {err}") from err
