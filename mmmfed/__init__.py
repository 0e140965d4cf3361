"""mmmfed: the federation gateway for independent M-Instances (MPAI MMM-TEC, ITU FGMV-43).

This package is the shared kernel: wire contract (``mmmfed.api.v1``), Items, errors, TLS,
configuration and the store. It never imports ``instance``, ``gateway`` or ``bridge``; only the
CLI (the composition root) does.

gRPC's C core writes its own log lines (``I1202 21:20:25.738293 ... Handshake failed ...``)
straight to file descriptor 2, outside Python's logging, so they would break a node's JSON logs,
and a peer making failed TLS handshakes would make one line each. They are off unless the
operator sets ``GRPC_VERBOSITY`` (``ERROR``, ``INFO`` or ``DEBUG``) before starting mmmfed; the C
core reads it once, when ``grpc`` is first imported, which is why this is done here. The node's
own logs report what matters of those events (a refused caller, a peer's TLS failure explained
by :func:`mmmfed.rpc.explain_unavailable`).
"""

import os

os.environ.setdefault("GRPC_VERBOSITY", "NONE")

__version__ = "0.1.0"
