"""Actions on Items: Author, Modify, Convert, Hide, Post, Validate, Discover, Inform.

Items an Action creates come as drafts carried by the request (``ProcessActionRequest.items``):
the engine gives them their Trace and ICapabilities. Item types that only their own Actions make
(Processes, Accounts, Rights, Rules, Activity Data, reports, Wallets, Transactions, Process
Actions) cannot be Authored.
"""

from __future__ import annotations

from typing import Any

from instance.world.actions.base import ActionContext
from instance.world.actions.ownership import owner_rights
from instance.world.itemdocs import iso, item_doc, local_part, schema_problem, sub_type
from instance.world.model import ComplementKind, PAErrorCode, PAStatus
from instance.world.rulebook import RulesVersion

RESERVED_ITEM_TYPES = frozenset({"PRC", "ACC", "PPR", "RGT", "RUL", "ACD", "FBR", "FDR", "WAL", "TRA", "PAC"})
LOCATION = "M-Location"


def _draft(ctx: ActionContext, item_id: str | None) -> tuple[dict[str, Any] | None, PAStatus | None]:
    doc = ctx.request.carried(item_id or "")
    if doc is None:
        return None, ctx.refuse(PAErrorCode.INC_ID, f"the request does not carry the Item {item_id}")
    problem = schema_problem(doc)
    if problem is not None:
        return None, ctx.refuse(PAErrorCode.INC_DQ, f"Item {item_id}: {problem}")
    return dict(doc), None


def store_new_item(ctx: ActionContext) -> PAStatus | None:
    """Store the carried draft named by Nil as a new Item of this M-Instance owned by the source."""
    world = ctx.world
    item_id = ctx.target()
    doc, refusal = _draft(ctx, item_id)
    if refusal is not None or doc is None:
        return refusal
    if doc["ItemType"] in RESERVED_ITEM_TYPES:
        return ctx.refuse(
            PAErrorCode.FAULTY_REQ,
            f"{doc['ItemType']} Items are made by their own Actions, not {ctx.request.action.value}",
        )
    if not world.is_local(doc["ItemID"]) or doc["MInstanceID"] != world.m_instance_id:
        return ctx.refuse(PAErrorCode.INC_ID, f"an Item made here has an id of {world.m_instance_id}, not {item_id}")
    if item_id in world.items:
        return ctx.refuse(PAErrorCode.CLASH, f"Item {item_id} already exists")
    parent = None
    if sub_type(doc) == LOCATION:
        parent = (doc.get("Content") or {}).get("Parent")
        if parent is not None and (not isinstance(parent, str) or parent not in world.locations):
            return ctx.refuse(
                PAErrorCode.LOC_OOR, f"M-Location {item_id} lies in {parent}, which is not an M-Location here"
            )
    doc["Trace"] = [{"ProcessID": ctx.source, "Time": iso(ctx.now)}]
    doc["ItemStatus"] = "Final"
    rights = owner_rights(world, ctx.rules, ctx.source, item_id or "", at_ms=ctx.now, tag=ctx.request.process_action_id)

    def apply() -> None:
        for right in rights:
            world.rights[right.rights_id] = right
        doc["ICapabilities"] = world.capabilities_doc(doc["ItemID"])
        world.items[doc["ItemID"]] = doc
        if sub_type(doc) == LOCATION:
            world.locations[doc["ItemID"]] = parent

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, doc["ItemID"], item=doc)
    return None


def author(ctx: ActionContext) -> PAStatus | None:
    """Author a new Item (a Message, a Room, an M-Location...). RS: Nil Item."""
    return store_new_item(ctx)


def modify(ctx: ActionContext) -> PAStatus | None:
    """Replace the Nil Item by the carried new version (same ItemID and ItemType). Modifying the
    Rules Item is the Rules change procedure (see :mod:`instance.world.rulebook`). RS: Nil Item."""
    world = ctx.world
    item_id = ctx.target()
    current = world.items.get(item_id or "")
    if current is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {item_id} here")
    doc, refusal = _draft(ctx, item_id)
    if refusal is not None or doc is None:
        return refusal
    if doc["ItemType"] != current["ItemType"]:
        return ctx.refuse(PAErrorCode.INC_DQ, f"Modify keeps the ItemType {current['ItemType']}, not {doc['ItemType']}")
    if doc["ItemType"] == "RUL":
        return _change_rules(ctx, doc)
    if doc["ItemType"] in RESERVED_ITEM_TYPES:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, f"{doc['ItemType']} Items change only through their own Actions")
    doc["Trace"] = [*current["Trace"], {"ProcessID": ctx.source, "Time": iso(ctx.now)}][-64:]
    doc["ICapabilities"] = current["ICapabilities"]

    def apply() -> None:
        world.items[doc["ItemID"]] = doc

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, doc["ItemID"], item=doc)
    return None


def _change_rules(ctx: ActionContext, doc: dict[str, Any]) -> PAStatus | None:
    try:
        version = RulesVersion.from_item(doc)
    except ValueError as err:
        return ctx.refuse(PAErrorCode.INC_DQ, f"Rules: {err}")
    book = ctx.world.rules
    refusal = book.change_refusal(version, by=ctx.source, at_ms=ctx.now)
    if refusal is not None:
        code = PAErrorCode.INS_RIGHTS if "lets only" in refusal else PAErrorCode.CLASH
        return ctx.refuse(code, refusal)

    def apply() -> None:
        book.add(version)
        ctx.world.items[doc["ItemID"]] = doc

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, doc["ItemID"], item=doc)
    return None


def convert(ctx: ActionContext) -> PAStatus | None:
    """A Conversion Service converts the Nil Item into the carried draft named by To, whose
    Qualifier Format it must support from the Nil Item's (QualNS otherwise). The result keeps the
    source in SourceItemID and belongs to the requester. RS: To the converted Item.

    This records the conversion in the M-Instance; converting the bytes of 3D models is what the
    bridge's Conversion Service (``bridge/conversion``) does on the wire."""
    world = ctx.world
    source_doc = ctx.item(ctx.target())
    if source_doc is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {ctx.target()} to Convert")
    result_id = ctx.target(ComplementKind.TO)
    if result_id is None:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "Convert names the converted Item to make with a To Complement")
    doc, refusal = _draft(ctx, result_id)
    if refusal is not None or doc is None:
        return refusal
    pair = (str(source_doc["ItemQualifier"].get("Format", "")), str(doc["ItemQualifier"].get("Format", "")))
    if pair not in world.conversions.get(ctx.destination, frozenset()):
        return ctx.refuse(PAErrorCode.QUAL_NS, f"{ctx.destination} does not convert Format {pair[0]!r} to {pair[1]!r}")
    if result_id in world.items or not world.is_local(result_id):
        return ctx.refuse(PAErrorCode.CLASH, f"{result_id} is taken or not an id of {world.m_instance_id}")
    doc["SourceItemID"] = source_doc["ItemID"]
    doc["Trace"] = [*source_doc["Trace"], {"ProcessID": ctx.destination, "Time": iso(ctx.now)}][-64:]
    rights = owner_rights(world, ctx.rules, ctx.source, result_id, at_ms=ctx.now, tag=ctx.request.process_action_id)

    def apply() -> None:
        for right in rights:
            world.rights[right.rights_id] = right
        doc["ICapabilities"] = world.capabilities_doc(result_id)
        world.items[result_id] = doc

    ctx.then(apply)
    ctx.produce(ComplementKind.TO, result_id, item=doc)
    return None


def hide(ctx: ActionContext) -> PAStatus | None:
    """Hide the Nil Item: Discover no longer finds it and it cannot be Posted. RS: Nil Item."""
    item_id = ctx.target() or ""
    if item_id not in ctx.world.items:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {item_id} here")
    if item_id in ctx.world.hidden:
        return ctx.refuse(PAErrorCode.CLASH, f"Item {item_id} is already Hidden")
    ctx.then(lambda: ctx.world.hidden.add(item_id))
    ctx.produce(ComplementKind.NIL, item_id)
    return None


def post(ctx: ActionContext) -> PAStatus | None:
    """Post the Nil Item At an M-Location (a board, a marketplace). PostRef for a Hidden Item."""
    world = ctx.world
    item_id = ctx.target() or ""
    at = ctx.target(ComplementKind.AT)
    if item_id not in world.items:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {item_id} here")
    if at is None or at not in world.locations:
        return ctx.refuse(PAErrorCode.LOC_OOR, f"Post needs an At M-Location of {world.m_instance_id}, not {at}")
    if item_id in world.hidden:
        return ctx.refuse(PAErrorCode.POST_REF, f"Item {item_id} is Hidden and cannot be Posted")
    if world.posted.get(item_id) == at:
        return ctx.refuse(PAErrorCode.CLASH, f"Item {item_id} is already Posted at {at}")
    ctx.then(lambda: world.posted.__setitem__(item_id, at))
    ctx.produce(ComplementKind.NIL, item_id)
    ctx.produce(ComplementKind.AT, at)
    return None


def validate(ctx: ActionContext) -> PAStatus | None:
    """Validate the Nil Item against its Item type's JSON Schema. IncDQ if it fails. RS: Nil Item."""
    doc = ctx.item(ctx.target())
    if doc is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {ctx.target()} to Validate")
    problem = schema_problem(doc)
    if problem is not None:
        return ctx.refuse(PAErrorCode.INC_DQ, f"Item {doc.get('ItemID')}: {problem}")
    item_id = str(doc["ItemID"])
    ctx.then(lambda: ctx.world.validated.__setitem__(item_id, ctx.rules.version_id))
    ctx.produce(ComplementKind.NIL, item_id)
    return None


def discover(ctx: ActionContext) -> PAStatus | None:
    """Discover a Process's presence (Of Process: RS Of it and a Presence Item) or the Items placed
    At an M-Location and the M-Locations inside it (RS With each, Hidden ones left out)."""
    world = ctx.world
    of = ctx.target(ComplementKind.OF)
    at = ctx.target(ComplementKind.AT)
    if of is not None:
        if of not in world.processes:
            return ctx.refuse(PAErrorCode.INC_ID, f"{of} is not a Process known here")
        presence = item_doc(
            m_instance_id=world.m_instance_id,
            item_id=world.id("presence", local_part(ctx.request.process_action_id)),
            item_type="ITM",
            sub_type="Presence",
            producer_id=ctx.destination,
            time_ms=ctx.now,
            fields={"Content": {"ProcessID": of, "Online": world.presence.get(of, False), "Place": _place_of(ctx, of)}},
        )
        ctx.produce(ComplementKind.OF, of, is_process=True)
        ctx.produce(ComplementKind.WITH, presence["ItemID"], item=presence)
        return None
    if at is not None:
        if at not in world.locations:
            return ctx.refuse(PAErrorCode.LOC_OOR, f"{at} is not an M-Location of {world.m_instance_id}")
        for item_id, where in sorted(world.placements.items()):
            if where == at and item_id not in world.hidden:
                ctx.produce(ComplementKind.WITH, item_id)
        for location, parent in sorted(world.locations.items()):
            if parent == at:
                ctx.produce(ComplementKind.WITH, location)
        return None
    return ctx.refuse(PAErrorCode.FAULTY_REQ, "Discover names what to find: Of a Process or At an M-Location")


def _place_of(ctx: ActionContext, process_id: str) -> str | None:
    placed = [i for i, who in ctx.world.placed_by.items() if who == process_id and i in ctx.world.placements]
    return ctx.world.placements[placed[0]] if placed else None


def inform(ctx: ActionContext) -> PAStatus | None:
    """Inform the To Process of the Nil Item (its inbox gets a reference). RS: Nil Item, To Process."""
    world = ctx.world
    item_id = ctx.target() or ""
    to = ctx.target(ComplementKind.TO)
    if ctx.item(item_id) is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {item_id} here")
    if to is None or to not in world.processes:
        return ctx.refuse(PAErrorCode.INC_ID, f"Inform needs a To Process of {world.m_instance_id}, not {to}")
    ctx.then(lambda: world.inboxes.setdefault(to, []).append(item_id))
    ctx.produce(ComplementKind.NIL, item_id)
    ctx.produce(ComplementKind.TO, to, is_process=True)
    return None
