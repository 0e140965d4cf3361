"""``python -m mmmfed`` runs the CLI (same as the ``mmmfed`` console script)."""

from mmmfed.cli import run

run()
