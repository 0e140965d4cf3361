"""Payment rounds of bench/chaos_transfer.py: a Transact in the ledger's currency between two
Processes of one M-Instance (MMM-TEC Transact; one Wallet per Process), with ``wallet.pay.before``
or ``wallet.pay.after`` armed at that instance.

The payment and the Transact's Activity Data record are one write of the M-Instance's database,
so whatever the crash, once the request is sent again with the same ProcessActionID until it is
answered, the payment is made exactly once (the Wallets reconcile, :mod:`bench.chaos_invariants`)
and recorded exactly once (one Activity Data record of that ProcessActionID: none is "lost",
two are "duplicated").
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import TYPE_CHECKING

import grpc

from instance.world.model import Action, Complement, ComplementKind, DeonticVerb, ProcessActionRequest, Value
from instance.world.wire import request_to_proto
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import process_action_pb2 as papb

if TYPE_CHECKING:
    from bench.chaos_driver import Chaos

RPC_TIMEOUT_S = 5.0


def payment_request(payer: str, payee: str, amount: int, currency_id: str) -> ProcessActionRequest:
    """``payer`` pays ``amount`` minor units from its Wallet To ``payee`` (a Transact it performs)."""
    m_instance_id = payer.removeprefix("mmm://").split("/", 1)[0]
    wallet = f"mmm://{m_instance_id}/wallets/{payer.rsplit('/', 1)[-1]}"
    return ProcessActionRequest(
        DeonticVerb.MAY,
        Action.TRANSACT,
        payer,
        payer,
        complements=(Complement(ComplementKind.NIL, wallet), Complement(ComplementKind.TO, payee, is_process=True)),
        time_ms=int(time.time() * 1000),
        payment=Value(amount, currency_id),
        process_action_id=f"mmm://{m_instance_id}/process-actions/chaos-pay-{uuid.uuid4()}",
    )


async def payment_round(chaos: Chaos, index: int, point: str, m_id: str) -> tuple[str, bool]:
    """One Transact at ``m_id`` with ``point`` armed at its instance; returns the round's line and
    whether the point was reached."""
    t0 = time.monotonic()
    payer, payee = chaos.rng.sample(chaos.processes[m_id], 2)
    amount = chaos.rng.randint(1, 5000)
    node = "instance-a" if m_id == chaos.cluster.plan.instance_a.m_instance_id else "instance-b"
    currency = chaos.currency[m_id]
    chaos.cluster.crash_file(node).write_text(point)
    request = request_to_proto(payment_request(payer, payee, amount, currency), m_instance_id=m_id)
    notes: list[str] = []
    restarted: list[str] = []
    outcome = "NOT ANSWERED at the deadline"
    deadline = time.monotonic() + chaos.round_timeout_s
    while time.monotonic() < deadline:
        restarted += await chaos.restart_dead()
        try:
            response: papb.ProcessActionResponse = await chaos.clients[m_id].instance.Act(
                ipb.ActRequest(request=request), timeout=RPC_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as err:
            if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                outcome = f"refused {err.code().name}: {err.details()}"
                break
            notes.append(f"Act {err.code().name}; sent again with the same ProcessActionID")
            await asyncio.sleep(0.05)
            continue
        status = response.pa_status
        outcome = "Ack" if status.ack else f"Error {papb.PAErrorCode.Name(status.error.code)}"
        if status.ack:
            chaos.paid[payer] -= amount
            chaos.paid[payee] += amount
        break
    reached = not chaos.cluster.crash_file(node).exists()
    if not reached:
        chaos.cluster.crash_file(node).unlink(missing_ok=True)
        notes.append("crash point not reached: it comes up again next round")
    records = await _records_of(chaos, m_id, payer, request.process_action_id)
    if records != 1:
        name = "lost" if records == 0 else "duplicated"
        chaos.totals.counts[name] += 1
        notes.append(f"{name.upper()}: Transact {request.process_action_id} has {records} Activity Data records")
    notes += await chaos.check_round(restarted)
    chaos.totals.rounds += 1
    extra = (" restarted " + ",".join(restarted) if restarted else "") + "".join(f"\n    {n}" for n in notes)
    took = time.monotonic() - t0
    line = f"round {index}: {m_id} pays {amount} crash={point}@{node} -> {outcome} ({took:.2f} s){extra}"
    return line, reached


async def _records_of(chaos: Chaos, m_id: str, payer: str, process_action_id: str) -> int:
    """How many Activity Data records of ``process_action_id`` the instance holds."""
    found = await chaos.clients[m_id].instance.QueryActivity(
        ipb.QueryActivityRequest(process_id=payer, limit=100_000), timeout=RPC_TIMEOUT_S
    )
    return sum(1 for raw in found.records_json if json.loads(raw)["ProcessActionID"] == process_action_id)
