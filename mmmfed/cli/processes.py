"""Node processes: each node of a loopback federation as its own ``mmmfed serve`` process.

Used by ``mmmfed demo`` and the benchmarks. :meth:`NodeProcesses.stop` ends every process it
started (SIGTERM, then SIGKILL of its process group after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from mmmfed.cli.loopback import LoopbackPlan
from mmmfed.client import wait_serving
from mmmfed.config import PeerAddress


class NodeProcesses:
    """Processes started for one run; their logs go to ``logs/<name>.log``."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        """Start ``python -m mmmfed <argv>`` (or ``argv`` if it starts with an executable path)."""
        command = argv if argv and Path(argv[0]).is_absolute() else [sys.executable, "-m", "mmmfed", *argv]
        with open(self._logs / f"{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_plan(self, plan: LoopbackPlan, workdir: Path) -> None:
        """Write each node's config (``plan.config_paths()``) and start it with ``mmmfed serve``;
        logs go to ``workdir/<node>.log``. The plan's reserved ports are released first (serving
        sockets have no SO_REUSEPORT to bind beside them)."""
        plan.ports.release()
        paths = plan.config_paths()
        for name, cfg in plan.nodes().items():
            path = paths[name]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(cfg.model_dump_json(indent=2))
            self.start(name, ["serve", cfg.kind, "--config", str(path)])

    async def wait_ready(self, plan: LoopbackPlan) -> None:
        """Wait until every node of ``plan`` answers health SERVING; RuntimeError if one died."""
        for cfg in plan.nodes().values():
            await wait_serving(plan.operator_for(cfg), PeerAddress(tls_name=cfg.tls_name, address=cfg.listen))
        plan.ports.release()
        self.check_alive()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self._logs / (name + '.log')}")

    def log_tails(self, lines: int = 15) -> dict[str, str]:
        """The last ``lines`` lines of each process's log."""
        return {
            log.name: "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in sorted(self._logs.glob("*.log"))
        }

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every process (idempotent): see :func:`stop_processes`."""
        stop_processes(self.procs.values(), timeout_s=timeout_s)


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], *, timeout_s: float = 10.0) -> None:
    """SIGTERM each process still running, then SIGKILL its process group (each was started in a
    session of its own) if it has not exited after ``timeout_s`` in all. Idempotent."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
