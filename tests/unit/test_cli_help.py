"""Help texts are written for operators: every command's help names what it does, never the
project's issues or internal work items."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from mmmfed.cli import app

# "issue 12", "issue item 4", 'issue "Federated trust"', "the issue's", "item 7": project bookkeeping.
_BOOKKEEPING = re.compile(r"\bissue\s+(\d|item\b|\")|\bissue's|\bthe issue\b|\bitem\s+\d", re.IGNORECASE)


def _commands(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app), ("mmmfed",)))


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"mmmfed serve", "mmmfed avatar migrate", "mmmfed certs init", "mmmfed keys rotate"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_text_has_no_issue_references(path: tuple[str, ...], command: Any) -> None:
    texts = [command.help or "", command.short_help or ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    offending = [text for text in texts if _BOOKKEEPING.search(text)]
    assert offending == [], f"{' '.join(path)} --help cites project bookkeeping: {offending}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path: tuple[str, ...], command: Any) -> None:
    assert (command.help or command.short_help or "").strip(), f"{' '.join(path)} has no help text"
