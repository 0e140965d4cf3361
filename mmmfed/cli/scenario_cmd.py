"""``mmmfed scenario phase0 [--federated]``: the phase 0 use case of the MMM reference
implementation (``mmmfed/cli/phase0.py``) on a loopback federation, each node its own process,
printing each step with its PA Status, then the Activity Data of each M-Instance.

Exit code 0 when every step answers the PA Status the use case expects (the last one is the
InsRights refusal), 1 otherwise. ``--json`` prints one object on stdout instead of the tables,
``{"federated", "ok", "steps": [...], "activity": {M-Instance: [ACD records]}}`` (see
:func:`step_dict`); a scenario that could not run is ``{"error": "SCENARIO_FAILED", "message"}``,
exit 1. ``--wide`` prints every column of the tables whatever the terminal's width.
"""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from mmmfed.cli.common import write_json_error
from mmmfed.cli.tables import FittingTable, WideOption, table_console
from mmmfed.errors import MmmfedError

if TYPE_CHECKING:  # the loopback federation is imported by the command that runs it, not by every CLI call
    from mmmfed.cli.loopback import LoopbackPlan
    from mmmfed.cli.phase0 import StepResult
    from mmmfed.cli.processes import NodeProcesses

scenario_app = typer.Typer(help="Runnable use cases.", no_args_is_help=True)
AVATARS = ("vrm/godot-vrm_Godette/Godette_vrm_v4.vrm", "gltf/Fox/Fox.glb")


def _status_text(r: StepResult) -> str:
    status = r.response.status
    shown = status.kind.value + (f" {status.error.value}" if status.error else "")
    if status.value is not None:
        shown += f" {status.value.amount_minor} {status.value.currency_id}"
    return shown


def step_dict(index: int, r: StepResult) -> dict[str, Any]:
    """One step for ``--json``: ``{"index", "title", "m_instance_id", "action", "pa_status",
    "error", "reason", "expected", "ok"}`` (``error`` is the PA Status error code or null)."""
    status = r.response.status
    return {
        "index": index,
        "title": r.title,
        "m_instance_id": r.m_instance_id,
        "action": r.request.action.value,
        "pa_status": status.kind.value,
        "error": status.error.value if status.error else None,
        "reason": status.reason,
        "expected": r.expected,
        "ok": r.ok,
    }


def step_table(results: list[StepResult]) -> Table:
    """One row per step: M-Instance, Action, PA Status, expected or not, and the reason."""
    table = FittingTable(show_lines=False, drop=("reason", "at", "step"))
    for col in ("#", "step", "at", "Action", "PA Status", "", "reason"):
        table.add_column(col, no_wrap=col in ("#", "at", "Action"))
    for index, r in enumerate(results, 1):
        shown = _status_text(r)
        table.add_row(
            str(index),
            escape(r.title),
            r.m_instance_id,
            r.request.action.value,
            shown,
            "[green]as expected[/]" if r.ok else f"[red]expected {r.expected}[/]",
            escape(r.response.status.reason[:90]),
        )
    return table


async def _activity(stub: object) -> list[dict[str, Any]]:
    """The M-Instance's Activity Data: its ACD records, oldest first."""
    from mmmfed.api.v1 import instance_pb2 as ipb

    reply = await stub.QueryActivity(ipb.QueryActivityRequest())  # type: ignore[attr-defined]
    return [json.loads(raw) for raw in reply.records_json]


def activity_table(records: list[dict[str, Any]], m_instance_id: str) -> Table:
    """One row per ACD record: Process Action, source -> destination, Action, PA Status. A
    Process of ``m_instance_id`` is shown by its name (the title says so), another by its ProcessID
    without ``mmm://``."""
    local = f"mmm://{m_instance_id}/processes/"

    def shown(process_id: str) -> str:
        return process_id.removeprefix(local) if process_id.startswith(local) else process_id.removeprefix("mmm://")

    title = f"Activity Data of {m_instance_id} (its Processes by name)"
    table = FittingTable(title=title, title_justify="left", drop=("Process Action",))
    for col in ("Process Action", "source -> destination", "Action", "PA Status"):
        table.add_column(col, no_wrap=col == "Process Action", overflow="fold")
    for r in records:
        status = r["PAStatus"]
        table.add_row(
            r["ProcessActionID"].rsplit("/", 1)[-1],
            f"{shown(r['SourceProcessID'])} ->\n{shown(r['DestinationProcessID'])}",
            r["Action"],
            status["Status"] + (f" {status['ErrorCode']}" if "ErrorCode" in status else ""),
        )
    return table


Activity = dict[str, list[dict[str, Any]]]


async def _run(
    p: LoopbackPlan, procs: NodeProcesses, *, federated: bool, notes: Console
) -> tuple[list[StepResult], Activity]:
    """Run the use case on the started nodes: each step's result, and each M-Instance's
    Activity Data afterwards."""
    from instance.world.model import ProcessActionRequest, ProcessActionResponse
    from instance.world.wire import request_to_proto, response_from_proto
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.inprocess import peer
    from mmmfed.cli.loopback import A, B, samples_dir
    from mmmfed.cli.phase0 import run_phase0
    from mmmfed.client import OperatorClient

    await procs.wait_ready(p)
    async with (
        OperatorClient(p.operators[A], instance=peer(p.instance_a), gateway=peer(p.gateway_a)) as at_a,
        OperatorClient(p.operators[B], instance=peer(p.instance_b), gateway=peer(p.gateway_b)) as at_b,
    ):
        if federated:
            negotiated = await at_a.negotiate(B)
            agreement = json.loads(negotiated.agreement_json)
            notes.print(f"trust agreement {agreement['AgreementID']} between {A} and {B} is ACTIVE")
        stubs = {A: at_a.instance, B: at_b.instance}

        async def send(m_instance_id: str, request: ProcessActionRequest) -> ProcessActionResponse:
            reply = await stubs[m_instance_id].Act(ipb.ActRequest(request=request_to_proto(request)))
            return response_from_proto(reply)

        samples = samples_dir()
        results = await run_phase0(
            send,
            a=A,
            b=B if federated else None,
            avatars=(samples / AVATARS[0], samples / AVATARS[1]),
            tag=f"p{int(time.time())}",
            start_ms=int(time.time() * 1000),
        )
        activity = {A: await _activity(at_a.instance)}
        if federated:
            activity[B] = await _activity(at_b.instance)
    return results, activity


def _report(results: list[StepResult], activity: Activity, *, federated: bool, as_json: bool, wide: bool) -> int:
    """Print the outcome (tables, or one JSON object) and return the exit code."""
    failed = [r for r in results if not r.ok]
    if as_json:
        doc = {
            "federated": federated,
            "ok": not failed,
            "steps": [step_dict(i, r) for i, r in enumerate(results, 1)],
            "activity": activity,
        }
        typer.echo(json.dumps(doc, indent=2))
    else:
        tables = table_console(wide, emoji=False)
        tables.print(step_table(results))
        for m_instance_id, records in activity.items():
            tables.print(activity_table(records, m_instance_id))
        Console(emoji=False).print(
            f"[bold]{len(results) - len(failed)} of {len(results)} steps answered as the use case expects[/]"
        )
    return 0 if not failed else 1


@scenario_app.command("phase0")
def phase0(
    federated: Annotated[bool, typer.Option("--federated", help="User2 lives in b.example (Resolution)")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the steps and Activity Data as one JSON object")
    ] = False,
    wide: WideOption = False,
) -> None:
    """Run the MMM phase 0 use case on loopback and print each step with its PA Status."""
    from mmmfed.cli.loopback import A, B, plan
    from mmmfed.cli.processes import NodeProcesses

    notes = Console(stderr=as_json, emoji=False)  # progress and failures: stderr under --json
    with tempfile.TemporaryDirectory(prefix="mmmfed-phase0-") as tmp:
        workdir = Path(tmp)
        p = plan(workdir)
        procs = NodeProcesses(workdir)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        title = f"phase 0 use case, User2 in {B}" if federated else f"phase 0 use case in {A}"
        notes.print(Rule(f"mmmfed scenario: {title}"))
        try:
            procs.start_plan(p, workdir)
            results, activity = asyncio.run(_run(p, procs, federated=federated, notes=notes))
            code = _report(results, activity, federated=federated, as_json=as_json, wide=wide)
        except KeyboardInterrupt:
            code = 130
        except (MmmfedError, RuntimeError) as err:
            if as_json:
                write_json_error("SCENARIO_FAILED", str(err))
            notes.print(f"[bold red]scenario failed:[/] {escape(str(err))}")
            for name, tail in procs.log_tails().items():
                notes.print(f"[dim]--- {name}[/]\n{escape(tail)}")
            code = 1
        finally:
            procs.stop()
    raise typer.Exit(code=code)
