"""Crash points: named places in the asset transfer protocol (and a Transact's payment) where a
test may kill this process.

Crash testing (issue 5) kills a node with SIGKILL right before or right after each durable write
of the transfer protocol, then restarts it and lets recovery finish. A node started with
``MMMFED_CRASHPOINT_FILE=<path>`` reads that file at every :func:`crashpoint`; when the file names
the point being passed (one name per file, optionally ``name#n`` for the n-th pass), the file is
removed (so the restarted node does not crash again) and the process kills itself with SIGKILL:
no ``finally`` blocks, no flushing, exactly as a power cut or an OOM kill. Without the variable a
crash point costs one environment lookup at import and one attribute check per call.

The points, by node:

* origin M-Instance: ``origin.begin.after`` (Asset locked and the transfer journalled),
  ``origin.decide.before`` (the destination staged; no decision written yet),
  ``origin.decide.after`` (decision written, not yet sent), ``origin.ack.before`` /
  ``origin.ack.after`` (the destination's acknowledgement of the decision).
* destination M-Instance: ``destination.stage.before`` / ``destination.stage.after``,
  ``destination.decide.before`` / ``destination.decide.after``.
* the paying M-Instance of a Transact in its ledger's currency: ``wallet.pay.before`` /
  ``wallet.pay.after`` (the payment and the Transact's Activity Data record: one write).
* either gateway: ``gateway.offer.before_forward`` / ``gateway.offer.after_forward``,
  ``gateway.decision.before_audit`` / ``gateway.decision.after_audit``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

ENV = "MMMFED_CRASHPOINT_FILE"

ORIGIN_POINTS = (
    "origin.begin.after",
    "origin.decide.before",
    "origin.decide.after",
    "origin.ack.before",
    "origin.ack.after",
)
DESTINATION_POINTS = (
    "destination.stage.before",
    "destination.stage.after",
    "destination.decide.before",
    "destination.decide.after",
)
WALLET_POINTS = ("wallet.pay.before", "wallet.pay.after")
GATEWAY_POINTS = (
    "gateway.offer.before_forward",
    "gateway.offer.after_forward",
    "gateway.decision.before_audit",
    "gateway.decision.after_audit",
)

_file: Path | None = Path(os.environ[ENV]) if os.environ.get(ENV) else None
_passes: dict[str, int] = {}


def crashpoint(name: str) -> None:
    """Kill this process with SIGKILL if the crash point file names ``name`` (see module doc)."""
    if _file is None:
        return
    try:
        wanted = _file.read_text().strip()
    except OSError:
        return
    point, _, nth = wanted.partition("#")
    if point != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] < (int(nth) if nth.isdigit() else 1):
        return
    _file.unlink(missing_ok=True)
    os.kill(os.getpid(), signal.SIGKILL)
