"""Register, Authenticate and Identify (MMM-TEC Actions; phase 0 "User registration").

Register: a human, through an App, asks the Registration Service to Register them with their
Personal Profile. The request carries a PPR Item naming the new User's ProcessID and Personae, the
Persona Items (Sub-Type Persona), and optionally an ACC Item naming the Account type (default
``Basic``). The Registration Service creates the Account, the User and Device Processes, a Wallet
if the Account type opens one, and the Internal Rights the Rules give that Account type.

A linked identity (FGMV-43 9.4 step 4: a user of another M-Instance whose identity this
M-Instance's gateway verified and admitted, ``instance/linked_identities.py``) is a User here
named ``processes/user/linked-<hex>``: only the Resolution Service Registers it, with the Account
type ``Linked`` or ``LinkedRestricted`` (those types are for linked identities only: InsRights
and IncDQ otherwise), without Personae; Registering it again is the same Process, its
Registration Rights replaced by those of its Account type now. :func:`unregister_linked` removes
it (IDIR-204).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instance.world.actions.base import ActionContext
from instance.world.actions.content import store_new_item
from instance.world.actions.ownership import owner_rights, registration_rights
from instance.world.itemdocs import item_doc, local_part, schema_problem, sub_type
from instance.world.model import (
    ANY_TARGET,
    Action,
    ComplementKind,
    PAErrorCode,
    PAStatus,
    Process,
    ProcessType,
    Right,
    RightLevel,
)
from instance.world.seed import LINKED_ACCOUNT, LINKED_RESTRICTED_ACCOUNT
from instance.world.world import World
from mmmfed.items import instance_or_none

DEFAULT_ACCOUNT_TYPE = "Basic"
DEVICE_CAPABILITIES: frozenset[Action] = frozenset(
    {Action.MU_ACTUATE, Action.MU_ADD, Action.UM_CAPTURE, Action.UM_SEND, Action.MM_SEND}
)


def _carried_of_type(ctx: ActionContext, item_type: str) -> Mapping[str, Any] | None:
    return next((i for i in ctx.request.items if isinstance(i, Mapping) and i.get("ItemType") == item_type), None)


def _user_local(local: str) -> str | None:
    """The local part of a User's ProcessID (``<name>``, or ``user/<name>`` as ``RegisterHuman``
    names it), or None when it is neither."""
    name = local.removeprefix("user/")
    return local if name and "/" not in name else None


def register(ctx: ActionContext) -> PAStatus | None:
    """Register a human: see the module docstring. RS: Nil User, To Device, Of Account, With Personae."""
    world = ctx.world
    profile = _carried_of_type(ctx, "PPR")
    if profile is None:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "Register carries the human's Personal Profile (a PPR Item)")
    problem = schema_problem(profile)
    if problem is not None:
        return ctx.refuse(PAErrorCode.INC_DQ, f"Personal Profile: {problem}")
    user_id = profile["ProcessID"]
    if not world.is_local(user_id):
        return register_roaming(ctx, profile)
    prefix = world.id("processes", "")
    human_id = _user_local(user_id[len(prefix) :]) if user_id.startswith(prefix) else None
    if human_id is None:
        return ctx.refuse(
            PAErrorCode.INC_ID, f"a User registered here is named {prefix}<name> or {prefix}user/<name>, not {user_id}"
        )
    account = _carried_of_type(ctx, "ACC")
    problem = schema_problem(account) if account is not None else None
    if problem is not None:
        return ctx.refuse(PAErrorCode.INC_DQ, f"Account: {problem}")
    account_type = account.get("AccountType") if account is not None else DEFAULT_ACCOUNT_TYPE
    linked = human_id.startswith(LINKED_PREFIX)
    refusal = _linked_refusal(ctx, user_id, account_type, linked=linked)
    if refusal is not None:
        return refusal
    arriving_again = linked and user_id in world.processes  # the same person again: the same Process
    if not arriving_again and (
        user_id in world.processes or world.id("processes", f"{human_id}-device") in world.processes
    ):
        return ctx.refuse(PAErrorCode.CLASH, f"{user_id} is already registered")
    same_profile = arriving_again and profile["ItemID"] == linked_profile_id(world, user_id)
    if (profile["ItemID"] in world.items and not same_profile) or not world.is_local(profile["ItemID"]):
        return ctx.refuse(
            PAErrorCode.CLASH, f"Personal Profile {profile['ItemID']} is taken or not an id of {world.m_instance_id}"
        )
    if not isinstance(account_type, str) or account_type not in ctx.rules.account_types:
        return ctx.refuse(
            PAErrorCode.INC_DQ,
            f"Account type {account_type!r} is not in Rules version {ctx.rules.version_id} "
            f"(known: {', '.join(sorted(ctx.rules.account_types))})",
        )
    personae = []
    for persona_id in profile["Personae"]:
        persona = ctx.request.carried(persona_id)
        if persona is None:
            return ctx.refuse(
                PAErrorCode.INC_ID, f"Persona {persona_id} is named in the Personal Profile but not carried"
            )
        problem = schema_problem(persona)
        if problem is not None or sub_type(persona) != "Persona" or persona.get("ItemType") != "ITM":
            return ctx.refuse(
                PAErrorCode.INC_DQ, f"Persona {persona_id}: {problem or 'not an ITM Item of Sub-Type Persona'}"
            )
        if not world.is_local(persona_id) or persona_id in world.items:
            return ctx.refuse(PAErrorCode.CLASH, f"Persona {persona_id} is taken or not an id of {world.m_instance_id}")
        personae.append(dict(persona))

    device_id = world.id("processes", f"{human_id}-device")
    account_id = world.id("accounts", human_id)
    opening = ctx.rules.account_types[account_type].opening
    if not world.profile.supports_item_type("WAL"):
        opening = None  # no Wallets in a Profile without trading
    wallet_id = world.id("wallets", human_id) if opening is not None else None
    tag = ctx.request.process_action_id
    user = Process(user_id, ProcessType.USER, world.profile.actions, wallet_id=wallet_id, account_type=account_type)
    device = Process(device_id, ProcessType.DEVICE, DEVICE_CAPABILITIES & world.profile.actions)
    registrar = ctx.destination

    def apply() -> None:
        if arriving_again:
            _drop_registration_rights(world, user_id)
        world.processes[user_id] = user
        world.processes.setdefault(device_id, device)
        for right in registration_rights(
            world, ctx.rules, user_id, account_type, wallet_id=wallet_id, at_ms=ctx.now, tag=f"{tag}#user"
        ):
            world.rights[right.rights_id] = right
        world.personae[user_id] = [p["ItemID"] for p in personae]
        for index, persona in enumerate(personae):
            pid = persona["ItemID"]
            for right in owner_rights(world, ctx.rules, user_id, pid, at_ms=ctx.now, tag=f"{tag}#persona{index}"):
                world.rights[right.rights_id] = right
            persona["ICapabilities"] = world.capabilities_doc(pid)
            world.items[pid] = persona
        if wallet_id is not None and opening is not None:
            ledger = world.ledger
            if ledger is not None and opening.currency_id == ledger.currency_id:  # the ledger keeps it
                ledger.issue(world.id("transactions", f"{local_part(tag)}-opening"), user_id, opening.amount_minor)
                world.wallets[wallet_id] = {}
            else:
                world.wallets[wallet_id] = {opening.currency_id: opening.amount_minor}
            world.items[wallet_id] = item_doc(
                m_instance_id=world.m_instance_id,
                item_id=wallet_id,
                item_type="WAL",
                sub_type="Wallet",
                producer_id=registrar,
                time_ms=ctx.now,
                fields={
                    "WalletID": wallet_id,
                    "OwnerProcessID": user_id,
                    "Balances": [{"Amount": opening.amount_minor, "CurrencyID": opening.currency_id}],
                },
            )
        for pid, kind in ((user_id, "User"), (device_id, "Device")):
            fields: dict[str, Any] = {"ProcessID": pid, "ProcessType": kind}
            if kind == "User":
                fields["HumanID"] = human_id.rsplit("/", 1)[-1]
                if wallet_id is not None:
                    fields["WalletID"] = wallet_id
            world.items[pid] = item_doc(
                m_instance_id=world.m_instance_id,
                item_id=pid,
                item_type="PRC",
                sub_type=kind,
                producer_id=registrar,
                time_ms=ctx.now,
                fields=fields,
            )
        world.items[account_id] = item_doc(
            m_instance_id=world.m_instance_id,
            item_id=account_id,
            item_type="ACC",
            sub_type="Account",
            producer_id=registrar,
            time_ms=ctx.now,
            fields={
                "AccountID": account_id,
                "ProcessID": user_id,
                "HumanID": human_id.rsplit("/", 1)[-1],
                "AccountType": account_type,
            },
        )
        world.items[profile["ItemID"]] = dict(profile)

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, user_id, is_process=True)
    ctx.produce(ComplementKind.TO, device_id, is_process=True)
    ctx.produce(ComplementKind.OF, account_id)
    for persona in personae:
        ctx.produce(ComplementKind.WITH, persona["ItemID"])
    return None


LINKED_PREFIX = "user/linked-"
"""The local part of a linked identity's User ProcessID begins so (``mmmfed.identity.linked``)."""
LINKED_ACCOUNT_TYPES = frozenset({LINKED_ACCOUNT, LINKED_RESTRICTED_ACCOUNT})


def linked_profile_id(world: World, user_id: str) -> str:
    """The Personal Profile ItemID of the linked identity ``user_id`` (one per Process, so an
    arrival again replaces it): ``mmm://<here>/profiles/<the ProcessID's local part>``."""
    return world.id("profiles", user_id.removeprefix(world.id("processes", "")))


def _linked_refusal(ctx: ActionContext, user_id: str, account_type: object, *, linked: bool) -> PAStatus | None:
    """FGMV-43 9.4 step 4: a linked identity (``processes/user/linked-...``) is registered by the
    Resolution Service only (its gateway verified and admitted it), with a Linked Account type;
    those Account types are for linked identities only."""
    resolution = ctx.world.id("processes", "resolution")
    if linked and ctx.source != resolution:
        return ctx.refuse(
            PAErrorCode.INS_RIGHTS,
            f"{user_id} names an identity linked from another M-Instance: only {resolution} registers it",
        )
    if linked and account_type not in LINKED_ACCOUNT_TYPES:
        return ctx.refuse(
            PAErrorCode.INC_DQ,
            f"a linked identity has Account type {' or '.join(sorted(LINKED_ACCOUNT_TYPES))}, not {account_type!r}",
        )
    if not linked and account_type in LINKED_ACCOUNT_TYPES:
        return ctx.refuse(
            PAErrorCode.INC_DQ, f"Account type {account_type} is for identities linked from other M-Instances"
        )
    return None


def _registration_right(world: World, right: Right) -> bool:
    """Whether ``right`` is one Register gave (Internal, by the M-Instance Manager, on ``"*"``, a
    public M-Location or a Wallet), not one on an Item the Process made or acquired."""
    return (
        right.level is RightLevel.INTERNAL
        and right.granted_by == world.id("processes", "manager")
        and (
            right.target_id == ANY_TARGET
            or right.target_id in world.public_locations
            or right.target_id in world.wallets
        )
    )


def _drop_registration_rights(world: World, user_id: str) -> None:
    for right in world.rights_of(user_id):
        if _registration_right(world, right):
            del world.rights[right.rights_id]


def unregister_linked(world: World, user_id: str) -> int:
    """Unlink (IDIR-204): the linked identity ``user_id`` and its Device stop being Processes here;
    every Right they hold, their PRC, Account and Personal Profile Items, presence and inbox go.
    Items the User made stay (without its Rights on them). Returns how many Rights went; 0 and
    nothing changed for a ProcessID that is not a linked identity here."""
    prefix = world.id("processes", LINKED_PREFIX)
    if not user_id.startswith(prefix) or user_id not in world.processes:
        return 0
    human_id = user_id.removeprefix(world.id("processes", ""))
    device_id = world.id("processes", f"{human_id}-device")
    removed = 0
    for pid in (user_id, device_id):
        for right in world.rights_of(pid):
            del world.rights[right.rights_id]
            removed += 1
        world.processes.pop(pid, None)
        world.items.pop(pid, None)
        world.presence.pop(pid, None)
        world.inboxes.pop(pid, None)
    world.items.pop(world.id("accounts", human_id), None)
    world.items.pop(linked_profile_id(world, user_id), None)
    world.personae.pop(user_id, None)
    return removed


ROAMING_PERSONA_ACTIONS: frozenset[Action] = frozenset(
    {Action.MU_ACTUATE, Action.MU_ADD, Action.MM_ADD, Action.MM_MOVE, Action.MM_ANIMATE, Action.MM_SEND}
)
"""What a roaming User may do with the Persona it brought: render it and place it."""


def register_roaming(ctx: ActionContext, profile: Mapping[str, Any]) -> PAStatus | None:
    """Register a roaming User (FGMV-43 9.1 step 4, "registered roaming"): a human of another
    M-Instance whose Persona that M-Instance's gateway brought here. The Resolution Service (the
    local counterpart of Processes of other M-Instances) asks, carrying the PPR that names the
    home ProcessID (kept as it is, IDIR-103) and the Persona, an Item of the home M-Instance. The
    User gets :data:`ROAMING_PERSONA_ACTIONS` on the Persona, no Account and no Wallet here. A User
    registered already gets the new Persona (a later migration; the same Persona again changes
    nothing). RS: Nil User, With Persona. Refuses InsRights (not the Resolution Service), IncID
    (a Persona named but not carried), InCDQ (a Persona of another M-Instance than the User's)."""
    world = ctx.world
    user_id = str(profile["ProcessID"])
    home = instance_or_none(user_id)
    if ctx.source != world.id("processes", "resolution"):
        return ctx.refuse(
            PAErrorCode.INS_RIGHTS, f"a User of {home} is registered here by {world.id('processes', 'resolution')} only"
        )
    personae: list[dict[str, Any]] = []
    for persona_id in profile["Personae"]:
        persona = ctx.request.carried(persona_id)
        if persona is None:
            return ctx.refuse(PAErrorCode.INC_ID, f"Persona {persona_id} is named but not carried")
        problem = schema_problem(persona)
        if problem is not None or sub_type(persona) != "Persona" or persona.get("MInstanceID") != home:
            return ctx.refuse(PAErrorCode.INC_DQ, f"Persona {persona_id}: {problem or f'not a Persona Item of {home}'}")
        personae.append(dict(persona))
    tag = ctx.request.process_action_id
    known = world.processes.get(user_id)
    user = known or Process(user_id, ProcessType.USER, world.profile.actions)
    registrar = ctx.destination

    def apply() -> None:
        world.processes[user_id] = user
        held = world.personae.setdefault(user_id, [])
        for index, persona in enumerate(personae):
            pid = persona["ItemID"]
            if pid in held:
                continue
            held.append(pid)
            world.items[pid] = persona
            given = ROAMING_PERSONA_ACTIONS
            rights = owner_rights(world, ctx.rules, user_id, pid, at_ms=ctx.now, tag=f"{tag}#p{index}", actions=given)
            for right in rights:
                world.rights[right.rights_id] = right
        if known is None:
            world.items[world.visitor_item_id(user_id)] = item_doc(
                m_instance_id=world.m_instance_id,
                item_id=world.visitor_item_id(user_id),
                item_type="PRC",
                sub_type="User",
                producer_id=registrar,
                time_ms=ctx.now,
                fields={
                    "ProcessID": user_id,
                    "ProcessType": "User",
                    "Roaming": {"HomeMInstanceID": home, "Kind": "registered roaming"},
                },
            )

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, user_id, is_process=True)
    for persona in personae:
        ctx.produce(ComplementKind.WITH, persona["ItemID"])
    return None


def authenticate(ctx: ActionContext) -> PAStatus | None:
    """Authenticate the Nil Process: a Process of this M-Instance, or the requesting Process of the
    M-Instance the request came from (its gateway authenticated it by mTLS under a trust
    agreement). RS: Nil Process, with its PRC Item when it is held here."""
    process_id = ctx.target()
    assert process_id is not None
    if process_id in ctx.world.processes and ctx.world.is_local(process_id):
        ctx.produce(ComplementKind.NIL, process_id, is_process=True, item=ctx.world.items.get(process_id))
        return None
    if ctx.origin is not None and process_id == ctx.source:
        ctx.produce(ComplementKind.NIL, process_id, is_process=True)
        return None
    return ctx.refuse(PAErrorCode.INC_ID, f"{process_id} is not a Process this M-Instance can authenticate")


def identify(ctx: ActionContext) -> PAStatus | None:
    """Identify data captured from the Universe as an Item: the carried draft named by Nil, with
    an ItemData binding, becomes an Item of this M-Instance owned by the source. RS: Nil Item."""
    draft = ctx.request.carried(ctx.target() or "")
    if draft is not None and "ItemData" not in draft:
        return ctx.refuse(PAErrorCode.INC_DQ, "Identify turns captured data into an Item: the draft needs ItemData")
    return store_new_item(ctx)
