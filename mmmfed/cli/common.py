"""What every ``mmmfed`` subcommand shares: the stderr console and how a refusal ends a command.

Subcommand modules import these from here, never from :mod:`mmmfed.cli` (which imports every
subcommand module to build the app), so no subcommand imports back into the package that
assembles it.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from mmmfed.errors import MmmfedError

err_console = Console(stderr=True)


def fail(err: MmmfedError) -> typer.Exit:
    """Print ``err``'s reason and message on stderr and return the ``typer.Exit`` (code 2) to
    raise: ``raise fail(err) from err``."""
    # The message may hold did:key ids or paths with brackets: no emoji codes, no markup.
    err_console.print(f"[bold red]error[/] {escape(err.reason)}: {escape(err.message)}", emoji=False)
    return typer.Exit(code=2)
