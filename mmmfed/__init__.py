"""mmmfed: the federation gateway for independent M-Instances (MPAI MMM-TEC, ITU FGMV-43).

This package is the shared kernel: wire contract (``mmmfed.api.v1``), Items, errors, TLS,
configuration and the store. It never imports ``instance``, ``gateway`` or ``bridge``; only the
CLI (the composition root) does.
"""

__version__ = "0.1.0"
