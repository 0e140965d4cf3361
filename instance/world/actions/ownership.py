"""The Rights a Process gets on what it registers, authors or acquires (Level Internal).

MMM-TEC: Internal Rights are "assigned by the M-Instance at Registration time according to the
M-Instance Rules and Account type". The Rules version in force lists, per Account type, the
Actions its Users may perform (``InternalRights``); this module turns that list into Rights on
the right targets: Item Actions on the User's own Items, placement on the public M-Locations,
Transact on its own Wallet, and ``"*"`` for the Actions that create or find.
"""

from __future__ import annotations

from instance.world.model import ANY_TARGET, Action, DeonticVerb, Right, RightLevel
from instance.world.rulebook import RulesVersion
from instance.world.world import World

ITEM_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.MODIFY,
        Action.CONVERT,
        Action.HIDE,
        Action.POST,
        Action.VALIDATE,
        Action.INFORM,
        Action.MM_ADD,
        Action.MM_MOVE,
        Action.MM_SEND,
        Action.MM_ANIMATE,
        Action.MU_ACTUATE,
        Action.MU_ADD,
        Action.RIGHTS_MANAGE,
    }
)
"""Actions a Process may perform on an Item it owns."""
ANYWHERE_ACTIONS: frozenset[Action] = frozenset(
    {Action.AUTHOR, Action.IDENTIFY, Action.DISCOVER, Action.RESOLVE, Action.AUTHENTICATE}
)
"""Actions granted with target ``"*"``."""
PLACING_ACTIONS: frozenset[Action] = frozenset({Action.MM_ADD, Action.MM_MOVE})


def internal_actions(world: World, rules: RulesVersion, process_id: str) -> frozenset[Action]:
    """The Actions the Account type of ``process_id`` lists (none for a Process without one)."""
    process = world.processes.get(process_id)
    if process is None or process.account_type is None:
        return frozenset()
    account = rules.account_types.get(process.account_type)
    return account.internal_rights if account is not None else frozenset()


def owner_rights(
    world: World,
    rules: RulesVersion,
    holder_id: str,
    item_id: str,
    *,
    at_ms: int,
    tag: str,
    actions: frozenset[Action] | None = None,
) -> list[Right]:
    """May Rights (Internal) of ``holder_id`` on its new Item ``item_id``: the Item Actions of its
    Account type, or ``actions`` for a Process without one (a Service)."""
    allowed = (actions if actions is not None else internal_actions(world, rules, holder_id)) & ITEM_ACTIONS
    return [
        Right(
            f"{tag}#{a.value}",
            holder_id,
            DeonticVerb.MAY,
            a,
            item_id,
            RightLevel.INTERNAL,
            world.id("processes", "manager"),
            at_ms,
        )
        for a in sorted(allowed)
    ]


def registration_rights(
    world: World, rules: RulesVersion, user_id: str, account_type: str, *, wallet_id: str | None, at_ms: int, tag: str
) -> list[Right]:
    """The Internal Rights a User gets at Registration, beyond those on its Personae."""
    account = rules.account_types[account_type]
    granted_by = world.id("processes", "manager")
    rights: list[Right] = []
    for action in sorted(account.internal_rights & ANYWHERE_ACTIONS):
        rights.append(
            Right(
                f"{tag}#{action.value}",
                user_id,
                DeonticVerb.MAY,
                action,
                ANY_TARGET,
                RightLevel.INTERNAL,
                granted_by,
                at_ms,
            )
        )
    for location in sorted(world.public_locations):
        for action in sorted(account.internal_rights & PLACING_ACTIONS):
            rights.append(
                Right(
                    f"{tag}#{action.value}@{location}",
                    user_id,
                    DeonticVerb.MAY,
                    action,
                    location,
                    RightLevel.INTERNAL,
                    granted_by,
                    at_ms,
                )
            )
    if wallet_id is not None and Action.TRANSACT in account.internal_rights:
        rights.append(
            Right(
                f"{tag}#Transact",
                user_id,
                DeonticVerb.MAY,
                Action.TRANSACT,
                wallet_id,
                RightLevel.INTERNAL,
                granted_by,
                at_ms,
            )
        )
    return rights
