"""The loopback federation of bench/chaos_transfer.py as restartable processes: every node its own
``python -m mmmfed serve`` with ``MMMFED_CRASHPOINT_FILE=<workdir>/crash-<node>``
(:mod:`mmmfed.crashpoints`), so a round can arm a crash point, see the node die (SIGKILL, -9) and
start it again alone with the same argv and environment.

:meth:`Cluster.wait_ready` raises RuntimeError (naming the node's log) if the node exits while
starting; :meth:`Cluster.stop` is idempotent.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mmmfed.cli.loopback import LoopbackPlan
from mmmfed.cli.processes import stop_processes
from mmmfed.client import wait_serving
from mmmfed.config import InstanceConfig, PeerAddress
from mmmfed.crashpoints import ENV

TRACE_ENV = "MMMFED_SOAK_TRACE"
"""Nodes (comma-separated) to start under tracemalloc, for diagnosis (bench/soak_trace.py)."""
RETRY_MAX_MS = 300  # the nodes' transfer retry backoff cap (default 2 s would make rounds slow)


class Cluster:
    """Every node of ``plan`` as a ``python -m mmmfed serve`` process that can be restarted alone
    (same argv, same environment), its log appended to ``<workdir>/logs/<node>.log``."""

    def __init__(self, p: LoopbackPlan, workdir: Path) -> None:
        self.plan = p
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.configs = dict(p.nodes())
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter[str] = Counter()

    def crash_file(self, node: str) -> Path:
        return self.workdir / f"crash-{node}"

    def start(self, node: str) -> None:
        cfg = self.configs[node]
        path = self.workdir / f"{node}.json"
        if not path.exists():
            if isinstance(cfg, InstanceConfig):  # short retry backoff, so recovery is quick
                cfg = cfg.model_copy(update={"assets": cfg.assets.model_copy(update={"retry_max_ms": RETRY_MAX_MS})})
            path.write_text(cfg.model_dump_json(indent=2))
        env = {**os.environ, ENV: str(self.crash_file(node))}
        command = [sys.executable, "-m", "mmmfed"]
        if node in os.environ.get(TRACE_ENV, "").split(","):  # diagnosis only: bench/soak_trace.py
            command = [sys.executable, str(Path(__file__).with_name("soak_trace.py"))]
            env["MMMFED_SOAK_TRACE_DIR"] = str(self.workdir / f"trace-{node}")
        self.starts[node] += 1
        with open(self.logs / f"{node}.log", "ab") as log:
            log.write(f"\n=== chaos_transfer: start #{self.starts[node]} of {node}\n".encode())
            log.flush()
            self.procs[node] = subprocess.Popen(
                [*command, "serve", cfg.kind, "--config", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    async def wait_ready(self, node: str, *, timeout_s: float = 30.0) -> None:
        """Wait until ``node`` serves; RuntimeError (naming its log) if it exits first."""
        cfg = self.configs[node]
        peer = PeerAddress(tls_name=cfg.tls_name, address=cfg.listen)
        ready = asyncio.create_task(wait_serving(self.plan.operator_for(cfg), peer, timeout_s=timeout_s))
        try:
            while not ready.done():
                if self.procs[node].poll() is not None:
                    log = self.logs / f"{node}.log"
                    raise RuntimeError(f"{node} exited with {self.procs[node].returncode} while starting; see {log}")
                await asyncio.wait({ready}, timeout=0.05)
            ready.result()
        finally:
            ready.cancel()

    def dead(self) -> dict[str, int]:
        """Nodes that exited, with their return code (-9: killed by a crash point)."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every node, SIGKILL its process group after ``timeout_s`` (idempotent)."""
        stop_processes(self.procs.values(), timeout_s=timeout_s)
