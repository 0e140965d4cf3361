"""Transact, and paying for a Process Action (MMM-TEC Service Pricing Model; basic, one Currency).

Transact: the source pays ``payment`` from the Nil Wallet (its own) To a Process. A payment in
the asset ledger's currency (``World.ledger``) is paid from and to the ledger's Wallets, the ones
``asset fund`` funds: one Wallet per Process, one durable write per Transaction (paid once, so a
replayed or retried decision does not pay twice). A payee of this
M-Instance is credited at once; for a payee of another M-Instance the Value goes to this
M-Instance's clearing Wallet for that M-Instance, which owes it there (settling between
M-Instances and exchanging currencies are FGMV-43 9.2 / ASEF work). Either way the result is a
Final TRA Item, the RS Nil. Amounts are integers in minor units; a Wallet never goes negative
(InsValue).

Paying: a destination with a price for an Action answers Request(Value) to a request without a
payment. The source Transacts, then repeats the request with ``payment`` and a With Complement
naming the Transaction (a Transaction of this M-Instance, or the payer M-Instance's TRA Item
carried through Resolution, which its gateway verified). Each Transaction pays once (Clash).
"""

from __future__ import annotations

from instance.world.actions.assets import lock
from instance.world.actions.base import ActionContext
from instance.world.itemdocs import iso, item_doc, local_part, schema_problem
from instance.world.model import ComplementKind, PAErrorCode, PAStatus, Value
from mmmfed.items import instance_or_none


def transact(ctx: ActionContext) -> PAStatus | None:
    """Pay ``payment`` from the Nil Wallet To a Process. RS: Nil Transaction (a TRA Item).
    The Transact of an Asset (the Nil an Asset held here) is its transfer's lock (``assets.py``)."""
    world = ctx.world
    if world.is_asset(ctx.target()):
        return lock(ctx)
    wallet_id = ctx.target() or ""
    paid = ctx.request.payment
    payee = ctx.target(ComplementKind.TO)
    if paid is None or payee is None:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "Transact names the Value (payment) and the payee (To)")
    owner = world.processes.get(ctx.source)
    if owner is None or owner.wallet_id != wallet_id:
        return ctx.refuse(PAErrorCode.INS_RIGHTS, f"{wallet_id} is not the Wallet of {ctx.source}")
    if paid.amount_minor <= 0:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "a Transaction moves a positive amount")
    transaction_id = world.id("transactions", local_part(ctx.request.process_action_id))
    ledger = world.ledger if world.ledger is not None and paid.currency_id == world.ledger.currency_id else None
    if ledger is not None and ledger.paid(transaction_id):
        balance = paid.amount_minor  # decided and paid before (a replay, or a retry after a crash)
    elif ledger is not None:
        balance = ledger.balance(ctx.source)
    else:
        balance = world.balance(wallet_id, paid.currency_id)
    if balance < paid.amount_minor:
        return ctx.refuse(
            PAErrorCode.INS_VALUE, f"{wallet_id} holds {balance} {paid.currency_id}, less than {paid.amount_minor}"
        )
    payee_instance = instance_or_none(payee)
    if payee_instance is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"{payee} is not a ProcessID")
    if world.is_local(payee):
        receiver = world.processes.get(payee)
        if receiver is None or receiver.wallet_id is None:
            return ctx.refuse(PAErrorCode.INC_ID, f"{payee} has no Wallet here")
        payee_wallet = receiver.wallet_id
    else:
        payee_wallet = world.clearing_wallet(payee_instance)
    if transaction_id in world.transactions:
        return ctx.refuse(PAErrorCode.CLASH, f"Transaction {transaction_id} already exists")
    fields = {
        "TransactionID": transaction_id,
        "PayerProcessID": ctx.source,
        "PayeeProcessID": payee,
        "Value": {"Amount": paid.amount_minor, "CurrencyID": paid.currency_id},
        "Status": "Final",
        "Time": _iso(ctx),
        "ProcessActionID": ctx.request.process_action_id,
    }
    if not world.is_local(payee):
        fields["PayeeMInstanceID"] = payee_instance
    doc = item_doc(
        m_instance_id=world.m_instance_id,
        item_id=transaction_id,
        item_type="TRA",
        sub_type="Transaction",
        producer_id=ctx.destination,
        time_ms=ctx.now,
        fields=fields,
    )

    if ledger is not None:
        ctx.durable_point = "wallet.pay"  # the payment and its record: one write of the database
    payer = ctx.source
    ledger_payee = payee if world.is_local(payee) else payee_wallet  # a Process, or settlement:<m>

    def apply() -> None:
        if ledger is not None:
            ledger.pay(transaction_id, payer, ledger_payee, paid.amount_minor)
        else:
            world.move_value(wallet_id, payee_wallet, paid)
        world.transactions[transaction_id] = doc
        world.items[transaction_id] = doc

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, transaction_id, item=doc)
    return None


def _iso(ctx: ActionContext) -> str:
    return iso(ctx.now)


def price_of(ctx: ActionContext) -> Value | None:
    """What the destination charges this source for this Action, or None."""
    key = (ctx.destination, ctx.request.action)
    if ctx.origin is not None and key in ctx.world.foreign_prices:
        return ctx.world.foreign_prices[key]
    return ctx.world.prices.get(key)


def payment_status(ctx: ActionContext, price: Value) -> PAStatus | None:
    """Request(price) without a payment; else check the paying Transaction and queue its use."""
    world = ctx.world
    paid = ctx.request.payment
    if paid is None:
        return PAStatus.request(
            price, f"{ctx.destination} charges {price.amount_minor} {price.currency_id} for {ctx.request.action.value}"
        )
    transaction_id = ctx.target(ComplementKind.WITH)
    if transaction_id is None:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "a paid request names its Transaction with a With Complement")
    local = world.transactions.get(transaction_id)
    doc = local if local is not None else ctx.foreign_item(transaction_id)
    if doc is None or doc.get("ItemType") != "TRA":
        return ctx.refuse(
            PAErrorCode.INC_ID, f"no Transaction {transaction_id} here or carried from the payer's M-Instance"
        )
    problem = schema_problem(doc)
    if problem is not None:
        return ctx.refuse(PAErrorCode.INC_DQ, f"Transaction {transaction_id}: {problem}")
    value = doc["Value"]
    if (
        doc["Status"] != "Final"
        or doc["PayerProcessID"] != ctx.source
        or doc["PayeeProcessID"] != ctx.destination
        or value["CurrencyID"] != price.currency_id
        or value["Amount"] < price.amount_minor
        or paid != Value(value["Amount"], value["CurrencyID"])
    ):
        return ctx.refuse(
            PAErrorCode.INS_VALUE,
            f"Transaction {transaction_id} does not pay {price.amount_minor} {price.currency_id} "
            f"from {ctx.source} to {ctx.destination}",
        )
    if transaction_id in world.consumed:
        return ctx.refuse(PAErrorCode.CLASH, f"Transaction {transaction_id} has already paid for a Process Action")
    receiver = world.processes[ctx.destination]
    origin = ctx.origin

    def apply() -> None:
        world.consumed.add(transaction_id)
        if local is None and origin is not None and receiver.wallet_id is not None:
            world.move_value(
                world.clearing_wallet(origin), receiver.wallet_id, Value(value["Amount"], value["CurrencyID"])
            )
            world.transactions[transaction_id] = dict(doc)

    ctx.then(apply)
    return None
