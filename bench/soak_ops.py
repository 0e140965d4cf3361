"""The operations of bench/soak.py's mixed load, each one call (or short exchange) against a
running loopback federation, classified as ``ok``, ``refused`` (the refusal the operation
provokes, with its reason) or ``error`` (anything else: a failed RPC, the wrong refusal, an
expected refusal that did not come).

Kinds (MMM-TEC Process Actions through the instance's Inter-Process Protocol ``Act``, FGMV-43
9.1 avatar and 9.2 Asset migrations through the gateways):

* ``transact``: one Process of a.example or b.example pays another of the same M-Instance
  (Transact, Ack expected);
* ``discover``: a Process asks its Activity Service what is placed at the MM-Square (Discover,
  Ack expected);
* ``resolve``: a.example's App Resolves b.example's Registration Service through both gateways
  (PlatformGateway.Resolve at gateway A, called as instance A; Ack expected);
* ``migrate``: a human registered at a.example with a one-triangle VRM migrates to b.example
  through the bridge (MIGRATED expected);
* ``migrate_refused``: the same with sphere.vrm, which the validator rejects (REFUSED
  ``GLTF_VALIDATION_FAILED`` expected);
* ``transfer``: an Asset minted at a.example moves to a Process of b.example with a payment
  (TransferAsset, then GetAssetTransfer until terminal: COMPLETED expected);
* ``overdraw``: a Transact of more than the payer's Wallet holds (PA Status Error InsValue);
* ``transfer_denied``: a Process that is not the Asset's owner asks to transfer it
  (PERMISSION_DENIED ``NO_TRANSACT_RIGHT``).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench.chaos_invariants import asset_ids
from bench.chaos_payments import payment_request
from bench.resolve_requests import VISITOR, resolve_request
from instance.world.model import Action, Complement, ComplementKind, DeonticVerb, ProcessActionRequest
from instance.world.wire import request_to_proto
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.loopback import A, B
from mmmfed.client import OperatorClient
from mmmfed.errors import RemoteError
from mmmfed.items import FORMAT_GLB

OK, REFUSED, ERROR = "ok", "refused", "error"
RPC_TIMEOUT_S = 30.0
TRANSFER_TIMEOUT_MS = 20_000
MIN_PAYMENT_MINOR = 100
"""The least a ``transfer`` pays: after the exchange's fee (rounded up) and rate, 1 ACU would deliver
0 BCU, which the exchange refuses (AMOUNT_TOO_SMALL): a refusal the soak does not mean to provoke."""
OVERDRAW_MINOR = 10**15
"""More than any Wallet of the soak ever holds (each is funded with bench.soak_load.FUND_MINOR)."""

Outcome = tuple[str, str]
"""(``ok`` | ``refused`` | ``error``, a detail: the refusal's reason or the error)."""


@dataclass
class Peers:
    """What the operations act on: operator clients per M-Instance, gateway A's Resolve as
    instance A calls it, the Processes of each M-Instance, avatars and Asset data."""

    clients: dict[str, OperatorClient]
    resolve: gateway_pb2_grpc.PlatformGatewayAsyncStub
    processes: dict[str, list[str]]
    currency: dict[str, str]
    good_avatar: Path
    bad_avatar: Path
    asset_data: bytes
    held_asset: tuple[str, str] = ("", "")
    """An Asset of a.example that stays put, and its owner (the target of ``transfer_denied``)."""
    rng: random.Random = field(default_factory=random.Random)
    serial: int = 0

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial


def _status(response: papb.ProcessActionResponse) -> str:
    """``Ack`` or the PA Status Error's code name (e.g. ``INS_VALUE``), or its kind."""
    status = response.pa_status
    if status.WhichOneof("status") == "ack":
        return "Ack"
    if status.WhichOneof("status") == "error":
        return papb.PAErrorCode.Name(status.error.code).removeprefix("PA_ERROR_CODE_")
    return str(status.WhichOneof("status"))


def _expect(got: str, want: str, *, refusal: bool = False) -> Outcome:
    if got == want:
        return (REFUSED if refusal else OK), got
    return ERROR, f"expected {want}, got {got}"


async def transact(p: Peers) -> Outcome:
    m_id = p.rng.choice((A, B))
    payer, payee = p.rng.sample(p.processes[m_id], 2)
    request = request_to_proto(
        payment_request(payer, payee, p.rng.randint(1, 100), p.currency[m_id]), m_instance_id=m_id
    )
    response = await p.clients[m_id].instance.Act(ipb.ActRequest(request=request), timeout=RPC_TIMEOUT_S)
    return _expect(_status(response), "Ack")


async def overdraw(p: Peers) -> Outcome:
    m_id = p.rng.choice((A, B))
    payer, payee = p.rng.sample(p.processes[m_id], 2)
    request = request_to_proto(payment_request(payer, payee, OVERDRAW_MINOR, p.currency[m_id]), m_instance_id=m_id)
    response = await p.clients[m_id].instance.Act(ipb.ActRequest(request=request), timeout=RPC_TIMEOUT_S)
    return _expect(_status(response), "INS_VALUE", refusal=True)


async def discover(p: Peers) -> Outcome:
    m_id = p.rng.choice((A, B))
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.DISCOVER,
        p.rng.choice(p.processes[m_id]),
        f"mmm://{m_id}/processes/activity",
        (Complement(ComplementKind.AT, f"mmm://{m_id}/locations/mm-square"),),
        int(time.time() * 1000),
        process_action_id=f"mmm://{m_id}/process-actions/soak-{uuid.uuid4()}",
    )
    act = ipb.ActRequest(request=request_to_proto(request, m_instance_id=m_id))
    response = await p.clients[m_id].instance.Act(act, timeout=RPC_TIMEOUT_S)
    return _expect(_status(response), "Ack")


async def resolve(p: Peers) -> Outcome:
    response = await p.resolve.Resolve(resolve_request(VISITOR, p.next_serial()), timeout=RPC_TIMEOUT_S)
    return _expect(_status(response), "Ack")


def _outcome(result: gpb.MigrateAvatarResponse) -> str:
    return gpb.MigrationOutcome.Name(result.outcome).removeprefix("MIGRATION_OUTCOME_")


async def _migrate(p: Peers, avatar: Path) -> gpb.MigrateAvatarResponse:
    client = p.clients[A]
    registered = await client.register_human(f"soak-{uuid.uuid4().hex[:12]}", avatar)
    return await client.migrate(registered.user_process_id, B)


async def migrate(p: Peers) -> Outcome:
    result = await _migrate(p, p.good_avatar)
    if result.outcome != gpb.MIGRATION_OUTCOME_MIGRATED:
        got = f"{_outcome(result)} {result.refusal_reason}: {result.refusal_message[:200]}"
        return ERROR, f"expected MIGRATED, got {got}"
    return OK, "MIGRATED"


async def migrate_refused(p: Peers) -> Outcome:
    result = await _migrate(p, p.bad_avatar)
    got = f"{_outcome(result)} {result.refusal_reason}".strip()
    return _expect(got, "REFUSED GLTF_VALIDATION_FAILED", refusal=True)


async def mint(p: Peers, m_id: str, owner: str) -> str:
    """Register an Asset (the soak's glTF sample) owned by ``owner`` at ``m_id``; its AssetID."""
    request = apb.RegisterAssetRequest(
        owner_process_id=owner, sub_type="Model", format=FORMAT_GLB, media_type="model/gltf-binary", data=p.asset_data
    )
    view = await p.clients[m_id].instance.RegisterAsset(request, timeout=RPC_TIMEOUT_S)
    return asset_ids(view)[0]


async def transfer(p: Peers) -> Outcome:
    owner = p.rng.choice(p.processes[A])
    asset_id = await mint(p, A, owner)
    request = apb.TransferAssetRequest(
        transfer_id=f"urn:uuid:{uuid.uuid4()}",
        asset_id=asset_id,
        source_process_id=owner,
        destination_process_id=p.rng.choice(p.processes[B]),
        payment_amount=p.rng.randint(MIN_PAYMENT_MINOR, 5000),
        timeout_ms=TRANSFER_TIMEOUT_MS,
    )
    instance = p.clients[A].instance
    view = await instance.TransferAsset(request, timeout=RPC_TIMEOUT_S)
    deadline = time.monotonic() + TRANSFER_TIMEOUT_MS / 1000 + 10
    while not view.terminal and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        query = apb.GetAssetTransferRequest(transfer_id=request.transfer_id)
        view = await instance.GetAssetTransfer(query, timeout=RPC_TIMEOUT_S)
    got = view.state + (f" {view.reason}" if view.reason else "")
    return _expect(got if view.terminal else f"not terminal ({got})", "COMPLETED")


async def transfer_denied(p: Peers) -> Outcome:
    asset_id, owner = p.held_asset
    thief = p.rng.choice([q for q in p.processes[A] if q != owner])
    request = apb.TransferAssetRequest(
        transfer_id=f"urn:uuid:{uuid.uuid4()}",
        asset_id=asset_id,
        source_process_id=thief,
        destination_process_id=p.rng.choice(p.processes[B]),
        timeout_ms=TRANSFER_TIMEOUT_MS,
    )
    try:
        view = await p.clients[A].instance.TransferAsset(request, timeout=RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as err:
        reason = err.details() or ""
        got = f"{err.code().name} {reason}"
        if err.code() == grpc.StatusCode.PERMISSION_DENIED and "NO_TRANSACT_RIGHT" in got:
            return REFUSED, "PERMISSION_DENIED NO_TRANSACT_RIGHT"
        return ERROR, f"expected PERMISSION_DENIED NO_TRANSACT_RIGHT, got {got[:200]}"
    return ERROR, f"expected PERMISSION_DENIED NO_TRANSACT_RIGHT, the transfer was accepted ({view.state})"


Operation = Callable[[Peers], Awaitable[Outcome]]

WEIGHTS: dict[str, tuple[Operation, float]] = {
    "transact": (transact, 0.25),
    "discover": (discover, 0.15),
    "resolve": (resolve, 0.25),
    "transfer": (transfer, 0.10),
    "overdraw": (overdraw, 0.10),
    "transfer_denied": (transfer_denied, 0.09),
    "migrate": (migrate, 0.03),
    "migrate_refused": (migrate_refused, 0.03),
}
"""Each kind's operation and share of the load (avatar migrations are the costly ones: a
conversion by the bridge, a validation of input and output)."""


async def run_one(kind: str, p: Peers) -> Outcome:
    """Run one operation of ``kind``; a failed RPC or refusal raised is an ``error``."""
    operation = WEIGHTS[kind][0]
    try:
        return await operation(p)
    except grpc.aio.AioRpcError as err:
        return ERROR, f"{err.code().name}: {(err.details() or '')[:200]}"
    except RemoteError as err:
        return ERROR, f"{err.reason}: {str(err)[:200]}"
