"""The initial World of the reference M-Instance: its Services, M-Locations and first Rules.

Every M-Instance starts with the phase 0 Services of the MMM reference implementation (paper
``spec/001_*`` 4.2.3) and the Processes the M-Instance Manager runs:

============  ======================================================================
manager       the M-Instance Manager: changes the Rules (Modify), owns the M-Locations
registration  Registration Service: Registers humans (Register)
activity      Activity Service: presence (MM-Send of a Presence Item, Discover Of a User)
parcels       Parcel Service: offers the parcels around the MM-Square (Rights Manage)
author        Author Service: offers Rooms it authored (Rights Manage)
resolution    Resolution Service: the local counterpart of Processes of other M-Instances
conversion    Conversion Service: Converts Items between the Formats it lists
transfers     Asset Transfer Service (FGMV-43 9.2 ASTF): performs an owner's Transact of an
              Asset to a Process of another M-Instance (the lock), and settles it by Rights
              Manage (the commit or the abort; ``actions/assets.py``)
app           the client App through which a human asks to Register
============  ======================================================================

M-Locations: the MM-Square, four parcels in it (public: every User may walk there), and
``room-1`` and ``room-2``, Rooms authored and offered by the Author Service. Rules version ``v1``
(effective from the start): the Account type ``Basic`` (Internal Rights and a Wallet opening with
100.00 in the M-Instance's currency), the Account types of identities admitted from other
M-Instances (``Linked``: Basic's Rights without a Wallet; ``LinkedRestricted``: presence and
placement only, FGMV-43 9.4 step 4), messages of at most 280 characters, at most 8 placed Items
per Process, and the Actions Processes of other M-Instances may ask for. The Activity Service
charges Processes of other M-Instances 0.05 for a presence query (Service Pricing Model).
"""

from __future__ import annotations

from instance.world.itemdocs import iso, item_doc
from instance.world.model import (
    ANY_TARGET,
    Action,
    DeonticVerb,
    Process,
    ProcessType,
    Profile,
    Right,
    RightLevel,
    Value,
)
from instance.world.rulebook import RuleBook, RulesVersion
from instance.world.world import World

USER_INTERNAL_RIGHTS = (
    "Author",
    "Identify",
    "Discover",
    "Resolve",
    "Authenticate",
    "Modify",
    "Convert",
    "Hide",
    "Post",
    "Validate",
    "Inform",
    "MM-Add",
    "MM-Move",
    "MM-Send",
    "MM-Animate",
    "MU-Actuate",
    "MU-Add",
    "Rights Manage",
    "Transact",
)
LINKED_ACCOUNT = "Linked"
LINKED_RESTRICTED_ACCOUNT = "LinkedRestricted"
LINKED_INTERNAL_RIGHTS = tuple(a for a in USER_INTERNAL_RIGHTS if a != "Transact")
"""An identity admitted from another M-Instance (FGMV-43 9.4 step 4): what a User registered here
may do, without a Wallet (no currency is issued to arrivals)."""
LINKED_RESTRICTED_RIGHTS = (
    "Discover",
    "Resolve",
    "Authenticate",
    "Inform",
    "MM-Add",
    "MM-Move",
    "MM-Animate",
    "MU-Actuate",
    "MU-Add",
)
"""An identity admitted with restricted Rights (its reputation, IDIR-305): it may be present, walk
and be seen, but not make Items (Author, Identify), post, modify, message (MM-Send), manage
Rights or trade."""
FOREIGN_ACTIONS = (
    "MM-Send",
    "MM-Add",
    "MM-Move",
    "MM-Animate",
    "Discover",
    "Authenticate",
    "Inform",
    "Resolve",
    "Validate",
)
PARCELS = ("parcel-1", "parcel-2", "parcel-3", "parcel-4")
ROOMS = ("room-1", "room-2")
TRANSFER_SERVICE = "transfers"
"""The local name of the Asset Transfer Service Process (``mmm://<m>/processes/transfers``)."""
OWNED_LOCATION_ACTIONS = frozenset({Action.MM_ADD, Action.MM_MOVE, Action.RIGHTS_MANAGE, Action.POST, Action.HIDE})

_SERVICES: dict[str, frozenset[Action]] = {
    "manager": frozenset({Action.MODIFY, Action.RIGHTS_MANAGE, Action.AUTHOR, Action.VALIDATE}),
    "registration": frozenset({Action.REGISTER, Action.AUTHENTICATE}),
    "activity": frozenset({Action.DISCOVER, Action.MM_SEND, Action.INFORM}),
    "parcels": frozenset({Action.RIGHTS_MANAGE}),
    "author": frozenset({Action.RIGHTS_MANAGE, Action.AUTHOR}),
    "resolution": frozenset(
        {
            Action.MM_ADD,
            Action.MM_MOVE,
            Action.MM_ANIMATE,
            Action.MM_SEND,
            Action.DISCOVER,
            Action.AUTHENTICATE,
            Action.INFORM,
            Action.RESOLVE,
            Action.VALIDATE,
        }
    ),
    "conversion": frozenset({Action.CONVERT}),
    TRANSFER_SERVICE: frozenset({Action.TRANSACT, Action.RIGHTS_MANAGE}),
}


def first_rules(m_instance_id: str, *, currency: str = "EUR", max_message_chars: int = 280) -> dict[str, object]:
    """The RUL Item of Rules version v1 (see the module docstring)."""
    return rules_item(
        m_instance_id, version_id="v1", effective_ms=0, currency=currency, max_message_chars=max_message_chars
    )


def rules_item(
    m_instance_id: str,
    *,
    version_id: str,
    effective_ms: int,
    currency: str = "EUR",
    max_message_chars: int = 280,
    max_placements: int = 8,
) -> dict[str, object]:
    """An RUL Item for the Rules Item ``mmm://<m_instance_id>/rules/current``."""
    manager = f"mmm://{m_instance_id}/processes/manager"
    return item_doc(
        m_instance_id=m_instance_id,
        item_id=f"mmm://{m_instance_id}/rules/current",
        item_type="RUL",
        sub_type="Rules",
        producer_id=manager,
        time_ms=effective_ms,
        fields={
            "RulesVersionID": version_id,
            "EffectiveTime": iso(effective_ms),
            "ChangeProcedure": {"ChangedBy": manager, "MinNoticeMs": 60_000},
            "Rules": {
                "MaxMessageChars": max_message_chars,
                "AccountTypes": {
                    "Basic": {
                        "InternalRights": list(USER_INTERNAL_RIGHTS),
                        "Wallet": {"CurrencyID": currency, "OpeningAmount": 10_000},
                    },
                    LINKED_ACCOUNT: {"InternalRights": list(LINKED_INTERNAL_RIGHTS)},
                    LINKED_RESTRICTED_ACCOUNT: {"InternalRights": list(LINKED_RESTRICTED_RIGHTS)},
                },
                "ForeignProcessActions": list(FOREIGN_ACTIONS),
                "MaxPlacementsPerProcess": max_placements,
            },
        },
    )


def new_world(m_instance_id: str, *, profile: Profile = Profile.FINANCE, currency: str = "EUR") -> World:
    """The initial World of ``m_instance_id`` (see the module docstring)."""
    rules_doc = first_rules(m_instance_id, currency=currency)
    world = World(m_instance_id, profile, RuleBook(RulesVersion.from_item(rules_doc)))
    world.items[str(rules_doc["ItemID"])] = dict(rules_doc)
    manager = world.id("processes", "manager")
    for name, capabilities in _SERVICES.items():
        wallet = world.id("wallets", name) if name in ("activity", "author", "parcels") else None
        world.processes[world.id("processes", name)] = Process(
            world.id("processes", name), ProcessType.SERVICE, capabilities & profile.actions, wallet_id=wallet
        )
        if wallet is not None:
            world.wallets[wallet] = {currency: 0}
    world.processes[world.id("processes", "app")] = Process(world.id("processes", "app"), ProcessType.APP, frozenset())

    def give(holder: str, action: Action, target: str) -> None:
        right = Right(
            f"{world.id('rights', 'seed')}-{len(world.rights)}",
            world.id("processes", holder),
            DeonticVerb.MAY,
            action,
            target,
            RightLevel.INTERNAL,
            manager,
        )
        world.rights[right.rights_id] = right

    give("registration", Action.REGISTER, ANY_TARGET)
    give("registration", Action.AUTHENTICATE, ANY_TARGET)
    give("manager", Action.MODIFY, str(rules_doc["ItemID"]))
    for action in (Action.AUTHOR, Action.DISCOVER):
        give("author", action, ANY_TARGET)
    give("resolution", Action.DISCOVER, ANY_TARGET)

    def location(local: str, parent: str | None, owner: str) -> str:
        location_id = world.id("locations", local)
        content = {"Parent": parent} if parent else {}
        world.items[location_id] = item_doc(
            m_instance_id=m_instance_id,
            item_id=location_id,
            item_type="ITM",
            sub_type="M-Location",
            producer_id=world.id("processes", owner),
            time_ms=0,
            fields={"Content": content},
            descr={"Name": local},
        )
        world.locations[location_id] = parent
        for action in OWNED_LOCATION_ACTIONS:
            give(owner, action, location_id)
        return location_id

    square = location("mm-square", None, "manager")
    world.public_locations.add(square)
    for parcel in PARCELS:
        parcel_id = location(parcel, square, "parcels")
        world.public_locations.add(parcel_id)
        world.offers[parcel_id] = world.id("processes", "parcels")
    for room in ROOMS:
        room_id = location(room, None, "author")
        world.offers[room_id] = world.id("processes", "author")
    for location_id in world.locations:
        world.items[location_id]["ICapabilities"] = world.capabilities_doc(location_id)
    world.conversions[world.id("processes", "conversion")] = frozenset(
        {("VRM/0.x", "glTF/2.0-binary"), ("VRM/1.0", "glTF/2.0-binary")}
    )
    world.foreign_prices[(world.id("processes", "activity"), Action.DISCOVER)] = Value(5, currency)
    return world
