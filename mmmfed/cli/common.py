"""What every ``mmmfed`` subcommand shares: the stderr console and how a refusal ends a command.

Subcommand modules import these from here, never from :mod:`mmmfed.cli` (which imports every
subcommand module to build the app), so no subcommand imports back into the package that
assembles it.

A refusal is one message naming the file, field or value and what to do, with a stable reason,
and exit code 2. Under ``--json`` it is JSON on stdout instead, so scripts read every outcome
from one place: ``{"error": "<REASON>", "message": "<what went wrong and what to do>"}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape

from mmmfed.errors import MmmfedError

err_console = Console(stderr=True)
EXIT_REFUSED = 2


def json_requested(argv: Sequence[str] | None = None) -> bool:
    """True if the command line (``sys.argv`` by default) asks for ``--json`` output (options
    after a ``--`` separator are arguments, not options)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


def write_json_error(reason: str, message: str) -> None:
    """``{"error": reason, "message": message}`` as one line on stdout."""
    sys.stdout.write(json.dumps({"error": reason, "message": message}) + "\n")
    sys.stdout.flush()


def fail(err: MmmfedError) -> typer.Exit:
    """Print ``err``'s reason and message (stderr, or JSON on stdout under ``--json``) and return
    the ``typer.Exit`` (code 2) to raise: ``raise fail(err) from err``."""
    if json_requested():
        write_json_error(err.reason, err.message)
    else:
        # The message may hold did:key ids or paths with brackets: no emoji codes, no markup.
        err_console.print(f"[bold red]error[/] {escape(err.reason)}: {escape(err.message)}", emoji=False)
    return typer.Exit(code=EXIT_REFUSED)


def refuse(reason: str, message: str) -> typer.Exit:
    """:func:`fail` for a refusal the CLI itself finds (a file it cannot write, nothing to show):
    ``raise refuse("FILE_UNWRITABLE", f"cannot write {path}: ...; choose another --out")``."""
    return fail(MmmfedError(message, reason=reason))
