"""The Process Actions of an Asset transfer (FGMV-43 9.2 steps 2 and 7; MMM-TEC Transact and
Rights Manage), decided by the engine like every other Action and recorded as Activity Data.

* **Lock** (9.2 step 2): the owner Transacts the Asset (Nil) To a Process of another M-Instance,
  and the Asset Transfer Service (the destination, ``seed.TRANSFER_SERVICE``) performs it. The
  engine's Rights check asks for the owner's May Transact Right on the Asset (from its
  ICapabilities); this handler refuses an Asset locked by another transfer (Clash) and a payment
  (``payment``, in the ledger's currency) the owner's Wallet cannot hold in escrow (InsValue).
  Performed, the Asset Transfer Service holds the Right to Rights Manage the Asset until the
  transfer is decided. RS: Nil Asset, To the receiving Process.
* **Commit** / **Abort** (9.2 step 7): the Asset Transfer Service Rights Manages the Asset on its
  own authority (source = destination): To the receiving Process (the Asset's Rights pass to it,
  at its M-Instance; none stay here), or From itself (its own Right ends; the owner keeps its
  Rights). The engine's Rights check asks for the Right the lock gave it, so only a locked Asset
  is settled, once.

What a transfer writes to the asset ledger (journal, escrow, owner of record) is written in the
same database transaction as the decision (``instance/assets/transfers.py``); here only the
World's Rights change. Rights on an Asset change by its transfer only: any other Rights Manage of
an Asset is refused (FaultyReq).
"""

from __future__ import annotations

from instance.world.actions.base import ActionContext
from instance.world.model import ComplementKind, PAErrorCode, PAStatus

LOCK_POINT, DECIDE_POINT = "origin.begin", "origin.decide"
"""Crash points of the durable writes of the lock and of the decision (:mod:`mmmfed.crashpoints`)."""


def lock(ctx: ActionContext) -> PAStatus | None:
    """Transact an Asset (see the module docstring). Refuses FaultyReq (not through the Asset
    Transfer Service, no To), IncID (the receiver is not a Process of another M-Instance, or the
    ledger does not hold the Asset), Clash (locked by a transfer), InsValue (the payment)."""
    world = ctx.world
    asset_id = ctx.target() or ""
    receiver = ctx.target(ComplementKind.TO)
    if ctx.destination != world.transfer_service:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, f"an Asset is Transacted through {world.transfer_service}")
    if receiver is None or world.is_local(receiver) or not receiver.startswith("mmm://"):
        return ctx.refuse(PAErrorCode.INC_ID, f"{receiver} is not a Process of another M-Instance")
    ledger = world.ledger
    held = ledger.asset_state(asset_id) if ledger is not None else None
    if held is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"the asset ledger of {world.m_instance_id} holds no Asset {asset_id}")
    state, locked_by = held
    if state != "OWNED":
        return ctx.refuse(PAErrorCode.CLASH, f"{asset_id} is locked by transfer {locked_by or 'in flight'}")
    paid = ctx.request.payment
    if paid is not None and ledger is not None:
        if paid.currency_id != ledger.currency_id or paid.amount_minor < 0:
            return ctx.refuse(PAErrorCode.FAULTY_REQ, f"a payment with an Asset is in {ledger.currency_id}")
        balance = ledger.balance(ctx.source)
        if balance < paid.amount_minor:
            return ctx.refuse(
                PAErrorCode.INS_VALUE,
                f"{ctx.source} has {balance} {paid.currency_id} minor units, {paid.amount_minor} needed",
            )
    ctx.durable_point = LOCK_POINT
    owner, now = ctx.source, ctx.now
    ctx.then(lambda: world.hold_for_transfer(asset_id, granted_by=owner, at_ms=now))
    ctx.produce(ComplementKind.NIL, asset_id)
    ctx.produce(ComplementKind.TO, receiver, is_process=True)
    return None


def settle(ctx: ActionContext) -> PAStatus | None:
    """Commit (To the receiving Process) or abort (From the Asset Transfer Service) a locked
    Asset's transfer; see the module docstring. FaultyReq for any other Rights Manage of an Asset."""
    world = ctx.world
    asset_id = ctx.target() or ""
    service = world.transfer_service
    to, frm = ctx.target(ComplementKind.TO), ctx.target(ComplementKind.FROM)
    if ctx.source != service or ctx.destination != service or (to is None) == (frm is None):
        return ctx.refuse(
            PAErrorCode.FAULTY_REQ, f"Rights on an Asset change by its transfer only, decided by {service}"
        )
    if frm is not None and frm != service:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, f"an abort withdraws the Right of {service} only")
    ctx.durable_point = DECIDE_POINT
    if to is not None:
        ctx.then(lambda: world.forget_asset(asset_id))  # its Rights pass to ``to``, at its M-Instance
        ctx.produce(ComplementKind.TO, to, is_process=True)
    else:
        ctx.then(lambda: world.release_from_transfer(asset_id))
        ctx.produce(ComplementKind.FROM, service, is_process=True)
    ctx.produce(ComplementKind.NIL, asset_id)
    return None
