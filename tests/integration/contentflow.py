"""Shared steps of the content tests (FGMV-43 9.3): the operators' CLI options of a loopback
federation, and the CLI called for its JSON output or its refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cliproc import mmmfed_in_thread as mmmfed

from mmmfed.cli.inprocess import Federation

A, B = "a.example", "b.example"
ALICE = f"mmm://{A}/processes/user/alice"
BOB = f"mmm://{B}/processes/user/bob"


async def operators(fed: Federation, tmp_path: Path) -> tuple[list[str], list[str]]:
    """CLI options (--config, --cert, --key) for a's and b's operators; alice at a, bob at b."""
    assert fed.at_a is not None and fed.at_b is not None
    await fed.at_a.register_process(ALICE)
    await fed.at_b.register_process(BOB)
    out = []
    for name, cfg in (("a", fed.plan.instance_a), ("b", fed.plan.instance_b)):
        config = tmp_path / f"instance-{name}.json"
        config.write_text(cfg.model_dump_json())
        tls = fed.plan.operator_for(cfg)
        out.append(["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)])
    return out[0], out[1]


async def cli_json(*args: str) -> Any:
    """The JSON a CLI call that must succeed prints (``--json`` added)."""
    done = await mmmfed(*args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


async def cli_refused(*args: str) -> str:
    """The reason of a CLI call that must exit 2 with one JSON error and no traceback."""
    done = await mmmfed(*args, "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return str(json.loads(done.stdout)["error"])
