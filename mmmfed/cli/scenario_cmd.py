"""``mmmfed scenario phase0 [--federated]``: the phase 0 use case of the MMM reference
implementation (``mmmfed/cli/phase0.py``) on a loopback federation, each node its own process,
printing each step with its PA Status, then the Activity Data of each M-Instance.

Exit code 0 when every step answers the PA Status the use case expects (the last one is the
InsRights refusal), 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from mmmfed.cli.loopback import A, B, LoopbackPlan, plan, samples_dir
from mmmfed.cli.phase0 import StepResult, run_phase0
from mmmfed.cli.processes import NodeProcesses
from mmmfed.errors import MmmfedError

scenario_app = typer.Typer(help="Runnable use cases.", no_args_is_help=True)
AVATARS = ("vrm/godot-vrm_Godette/Godette_vrm_v4.vrm", "gltf/Fox/Fox.glb")


def step_table(results: list[StepResult]) -> Table:
    """One row per step: M-Instance, Action, PA Status, expected or not, and the reason."""
    table = Table("#", "step", "at", "Action", "PA Status", "", "reason", show_lines=False)
    for index, r in enumerate(results, 1):
        status = r.response.status
        shown = status.kind.value + (f" {status.error.value}" if status.error else "")
        if status.value is not None:
            shown += f" {status.value.amount_minor} {status.value.currency_id}"
        table.add_row(
            str(index),
            escape(r.title),
            r.m_instance_id,
            r.request.action.value,
            shown,
            "[green]as expected[/]" if r.ok else f"[red]expected {r.expected}[/]",
            escape(status.reason[:90]),
        )
    return table


async def _activity_table(stub: object, m_instance_id: str) -> Table:
    from mmmfed.api.v1 import instance_pb2 as ipb

    reply = await stub.QueryActivity(ipb.QueryActivityRequest())  # type: ignore[attr-defined]
    table = Table(
        "Process Action", "source", "destination", "Action", "PA Status", title=f"Activity Data of {m_instance_id}"
    )
    for raw in reply.records_json:
        r = json.loads(raw)
        status = r["PAStatus"]
        table.add_row(
            r["ProcessActionID"].rsplit("/", 1)[-1],
            r["SourceProcessID"].removeprefix("mmm://"),
            r["DestinationProcessID"].removeprefix("mmm://"),
            r["Action"],
            status["Status"] + (f" {status['ErrorCode']}" if "ErrorCode" in status else ""),
        )
    return table


async def _run(p: LoopbackPlan, procs: NodeProcesses, *, federated: bool, console: Console) -> int:
    from instance.world.model import ProcessActionRequest, ProcessActionResponse
    from instance.world.wire import request_to_proto, response_from_proto
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.inprocess import peer
    from mmmfed.client import OperatorClient

    await procs.wait_ready(p)
    async with (
        OperatorClient(p.operators[A], instance=peer(p.instance_a), gateway=peer(p.gateway_a)) as at_a,
        OperatorClient(p.operators[B], instance=peer(p.instance_b), gateway=peer(p.gateway_b)) as at_b,
    ):
        if federated:
            negotiated = await at_a.negotiate(B)
            agreement = json.loads(negotiated.agreement_json)
            console.print(f"trust agreement {agreement['AgreementID']} between {A} and {B} is ACTIVE")
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
        console.print(step_table(results))
        console.print(await _activity_table(at_a.instance, A))
        if federated:
            console.print(await _activity_table(at_b.instance, B))
    failed = [r for r in results if not r.ok]
    console.print(f"[bold]{len(results) - len(failed)} of {len(results)} steps answered as the use case expects[/]")
    return 0 if not failed else 1


@scenario_app.command("phase0")
def phase0(
    federated: Annotated[bool, typer.Option("--federated", help="User2 lives in b.example (Resolution)")] = False,
) -> None:
    """Run the MMM phase 0 use case on loopback and print each step with its PA Status."""
    console = Console(width=max(140, Console().width), emoji=False)
    with tempfile.TemporaryDirectory(prefix="mmmfed-phase0-") as tmp:
        workdir = Path(tmp)
        p = plan(workdir)
        procs = NodeProcesses(workdir)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        title = f"phase 0 use case, User2 in {B}" if federated else f"phase 0 use case in {A}"
        console.print(Rule(f"mmmfed scenario: {title}"))
        try:
            procs.start_plan(p, workdir)
            code = asyncio.run(_run(p, procs, federated=federated, console=console))
        except KeyboardInterrupt:
            code = 130
        except (MmmfedError, RuntimeError) as err:
            console.print(f"[bold red]scenario failed:[/] {escape(str(err))}")
            for name, tail in procs.log_tails().items():
                console.print(f"[dim]--- {name}[/]\n{escape(tail)}")
            code = 1
        finally:
            procs.stop()
    raise typer.Exit(code=code)
