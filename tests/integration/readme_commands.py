"""The ``mmmfed`` command lines of README.md, and a way to run each as its own process.

:func:`readme_commands` reads every ```sh block of the README, joins ``\\`` continuations, drops
comments, and keeps each line that runs ``.venv/bin/mmmfed`` (also as ``VAR=$(.venv/bin/mmmfed
...)``), with ``a|b`` alternatives of the subcommand word expanded into one command each
(``audit show|verify --config F`` is ``audit show --config F`` and ``audit verify --config F``).

:class:`CommandRunner` runs a command line as ``python -m mmmfed`` would: in its own process,
with its own argv, working directory, stdin/stdout/stderr and exit code. Each process is forked
from a server that has imported ``mmmfed.cli`` once (multiprocessing's forkserver), since a fresh
interpreter costs about 1.4 s of CPU on the project's machine and the README has dozens of
commands; ``MMMFED_README_SUBPROCESS=1`` runs each through ``sys.executable -m mmmfed`` instead.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MMMFED = ".venv/bin/mmmfed"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class ReadmeCommand:
    """One command as the README shows it: ``text`` starts with ``mmmfed`` (alternatives
    expanded, comments dropped, one line); ``section`` is the heading above its block."""

    text: str
    section: str
    line: int


@dataclass(frozen=True)
class ReadmeFile:
    """A file a block writes with ``cat > NAME <<'EOF'`` ... ``EOF``."""

    name: str
    content: str
    section: str
    line: int


_HEREDOC = re.compile(r"^cat > (\S+) <<'(\w+)'$")


def _heredocs(block: str, first_line: int) -> tuple[list[tuple[int, str, str]], str]:
    """The block's here-documents (line, file name, content), and the block without them."""
    files: list[tuple[int, str, str]] = []
    kept: list[str] = []
    lines = block.splitlines()
    index = 0
    while index < len(lines):
        opening = _HEREDOC.match(lines[index].strip())
        if opening is None:
            kept.append(lines[index])
            index += 1
            continue
        end = lines.index(opening.group(2), index + 1)
        files.append((first_line + index, opening.group(1), "\n".join(lines[index + 1 : end]) + "\n"))
        kept.extend([""] * (end + 1 - index))  # keep the line numbers of what follows
        index = end + 1
    return files, "\n".join(kept)


def readme_files(readme: Path) -> list[ReadmeFile]:
    """Every file the README's ```sh blocks write with a here-document, in README order."""
    found: list[ReadmeFile] = []
    for section, first_line, block in _blocks(readme):
        for line, name, content in _heredocs(block, first_line)[0]:
            found.append(ReadmeFile(name=name, content=content, section=section, line=line))
    return found


def _blocks(readme: Path) -> list[tuple[str, int, str]]:
    """(section heading, first line number, text) of each ```sh block."""
    text = readme.read_text(encoding="utf-8")
    blocks = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start(1)]
        prose = re.sub(r"^```.*?^```", "", before, flags=re.DOTALL | re.MULTILINE)  # a block's "# ..." is a comment
        headings = re.findall(r"^#+ (.+)$", prose, re.MULTILINE)
        blocks.append((headings[-1] if headings else "", before.count("\n") + 1, match.group(1)))
    return blocks


def _logical_lines(block: str, first_line: int) -> list[tuple[int, str]]:
    """The block's lines with ``\\`` continuations joined, each with its README line number."""
    out: list[tuple[int, str]] = []
    pending, start = "", first_line
    for offset, raw in enumerate(block.splitlines()):
        if not pending:
            start = first_line + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append((start, pending + raw))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def _command_words(line: str) -> list[str] | None:
    """The words after ``.venv/bin/mmmfed`` on a shell line (comments dropped), or None.
    A trailing ``&`` (run in the background) stays a word."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as err:
        raise ValueError(f"README shell line does not parse ({err}): {line!r}") from err
    for index, word in enumerate(words):
        head = word.split("$(", 1)[-1]
        if head == MMMFED:
            rest = words[index + 1 :]
            if rest and rest[-1].endswith(")") and "$(" in word:
                rest[-1] = rest[-1][:-1]
            return rest
    return None


def _expanded(words: list[str]) -> list[list[str]]:
    """``a|b`` in the subcommand word (the second) gives one command per alternative."""
    if len(words) >= 2 and "|" in words[1]:
        return [[words[0], alternative, *words[2:]] for alternative in words[1].split("|")]
    return [words]


def _optional_groups(line: str) -> list[str]:
    """``[--flag VALUE]`` (an optional part, as usage lines show it) gives the line without it
    and the line with it."""
    match = re.search(r"\[(--[^\]]*)\]", line)
    if match is None:
        return [line]
    without = line[: match.start()] + line[match.end() :]
    with_it = line[: match.start()] + match.group(1) + line[match.end() :]
    return [*_optional_groups(without), *_optional_groups(with_it)]


def _expand_variables(line: str, variables: dict[str, str]) -> str:
    """``$NAME`` of a variable the block assigned (``NAME="..."``), as the shell expands it
    unquoted (its words split again by shlex)."""
    return re.sub(r"\$([A-Z_]+)\b(?!})", lambda m: variables.get(m.group(1), m.group(0)), line)


def readme_commands(readme: Path) -> list[ReadmeCommand]:
    """Every ``mmmfed`` command of ``readme``'s ```sh blocks, in README order."""
    commands: list[ReadmeCommand] = []
    for section, first_line, block in _blocks(readme):
        variables: dict[str, str] = {}
        for line_no, line in _logical_lines(_heredocs(block, first_line)[1], first_line):
            assigned = re.fullmatch(r'([A-Z_]+)="([^"$]*)"\s*(#.*)?', line.strip())
            if assigned:
                variables[assigned.group(1)] = assigned.group(2)
                continue
            for optional in _optional_groups(_expand_variables(line, variables)):
                words = _command_words(optional)
                if words is None:
                    continue
                for variant in _expanded(words):
                    shown = shlex.join(["mmmfed", *variant])
                    commands.append(ReadmeCommand(text=shown, section=section, line=line_no))
    return commands


def readme_other_lines(readme: Path) -> list[tuple[int, str]]:
    """The shell lines of ```sh blocks that run something other than ``mmmfed`` (``make``,
    ``kubectl`` ...): (README line, the line without its comment). Variable assignments of literal
    text, here-documents and comment lines are left out."""
    found: list[tuple[int, str]] = []
    for _section, first_line, block in _blocks(readme):
        for line_no, line in _logical_lines(_heredocs(block, first_line)[1], first_line):
            if re.fullmatch(r'([A-Z_]+)="([^"$]*)"\s*(#.*)?', line.strip()) or _command_words(line) is not None:
                continue
            words = shlex.split(line, comments=True)
            if words:
                found.append((line_no, shlex.join(words)))
    return found


@dataclass(frozen=True)
class Result:
    """What one command did: its exit code and what it wrote."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        head = f"$ mmmfed {shlex.join(self.argv)}\nexit {self.returncode}"
        return f"{head}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def _child(argv: list[str], cwd: str, out: str, err: str, stdin: str | None, env: dict[str, str]) -> None:
    """In the forked process: become ``mmmfed ARGV`` run in ``cwd`` with fds 0-2 redirected."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path, mode in ((0, stdin or os.devnull, os.O_RDONLY), (1, out, os.O_WRONLY), (2, err, os.O_WRONLY)):
        target = os.open(path, mode)
        os.dup2(target, fd)
        os.close(target)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process ends with the command
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    from mmmfed.cli import app

    code = 0
    try:
        app(args=argv, prog_name="mmmfed")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


class CommandRunner:
    """Runs ``mmmfed`` command lines, each in its own process (see the module docstring)."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = {**os.environ, "COLUMNS": "200", **(env or {})}
        self.subprocess = os.environ.get("MMMFED_README_SUBPROCESS") == "1"
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["mmmfed.cli"])
        self._count = 0

    def run(self, argv: list[str], *, cwd: Path, stdin: str | None = None, timeout_s: float = 120) -> Result:
        """Run ``mmmfed ARGV`` in ``cwd``; ``stdin`` is text given on its standard input."""
        self._count += 1
        if self.subprocess:
            done = subprocess.run(
                [sys.executable, "-m", "mmmfed", *argv],
                cwd=cwd,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=self.env,
            )
            return Result(argv, done.returncode, done.stdout, done.stderr)
        io = self.root / ".runs"
        io.mkdir(exist_ok=True)
        out, err, given = (io / f"{self._count}.{name}" for name in ("out", "err", "in"))
        out.touch()
        err.touch()
        if stdin is not None:
            given.write_text(stdin)
        process = self._ctx.Process(
            target=_child,
            args=(argv, str(cwd), str(out), str(err), str(given) if stdin is not None else None, self.env),
        )
        process.start()
        process.join(timeout_s)
        if process.is_alive():
            process.kill()
            process.join()
            raise TimeoutError(f"mmmfed {shlex.join(argv)} did not end within {timeout_s} s")
        assert process.exitcode is not None
        return Result(argv, process.exitcode, out.read_text(errors="replace"), err.read_text(errors="replace"))
