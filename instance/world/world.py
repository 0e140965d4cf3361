"""The state of one M-Instance that Process Actions act on: Processes, Items, Rights, M-Locations,
Wallets and the records Actions leave (placements, messages, renderings, presence).

A plain container with small, total helpers. It has no checks of its own: the engine and the
Action handlers (``instance/world/actions``) decide what may change, and change it only after
every check passed, so a refused request leaves it untouched.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from instance.world.model import (
    ANY_TARGET,
    Action,
    DeonticVerb,
    Process,
    ProcessActionRequest,
    ProcessActionResponse,
    Profile,
    Right,
    RightLevel,
    Value,
)
from instance.world.rulebook import RuleBook
from mmmfed.items import instance_or_none


@dataclass(slots=True)
class Rendering:
    """An Item rendered to the Universe by a Device (MU-Actuate) or placed there (MU-Add)."""

    device_id: str
    item_id: str
    action: Action
    u_location: str | None
    time_ms: int


class WalletLedger(Protocol):
    """The durable store of the Wallets in one currency and of the Assets (the asset ledger, in a
    node): the Wallet ``asset fund`` (FundWallet) funds is the one a Transact in that currency
    pays from, and an Asset's state there is what the Transact of an Asset is judged against.
    Holders are ProcessIDs and :func:`settlement_account` names."""

    currency_id: str

    def balance(self, holder: str) -> int:
        """The holder's balance in minor units (0 if unknown)."""
        ...

    def paid(self, transaction_id: str) -> bool:
        """Whether the Transaction's payment is written."""
        ...

    def pay(self, transaction_id: str, payer: str, payee: str, amount: int) -> None:
        """Pay once per Transaction, in one durable write."""
        ...

    def issue(self, transaction_id: str, holder: str, amount: int) -> None:
        """Issue currency to ``holder`` (an opening balance) once per Transaction."""
        ...

    def asset_state(self, asset_id: str) -> tuple[str, str] | None:
        """The Asset's state in the store (``OWNED``, ``LOCKED`` or ``MIGRATED``) and the
        transfer that locks it (``""`` if none); None if the store holds no such Asset."""
        ...


RECENT_LIMIT = 2_048
"""How many recent ProcessActionIDs the World keeps answers and performances of in memory; older
ones are found in Activity Data (indexed by ProcessActionID)."""


class SeenResponses(OrderedDict[str, tuple[str, ProcessActionResponse]]):
    """The answers of the last ``limit`` decided ProcessActionIDs (default :data:`RECENT_LIMIT`),
    oldest dropped first: Processes of other M-Instances choose ProcessActionIDs, so this must not
    grow without bound. The engine finds an older one in Activity Data
    (``ActivityLog.first_decision``)."""

    def __init__(self, limit: int = RECENT_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: str, value: tuple[str, ProcessActionResponse]) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)

    def __reduce__(self) -> Any:  # pickled with its limit (tests copy seeded Worlds by pickling)
        return (type(self), (self.limit,), None, None, iter(self.items()))


class RecentIds:
    """The last ``limit`` ProcessActionIDs added (default :data:`RECENT_LIMIT`), oldest dropped
    first: a set whose memory is bounded. ``in`` answers only for the recent ones; whoever needs
    an older one asks Activity Data (the engine: ``ActivityLog.performed``)."""

    __slots__ = ("_ids", "limit")

    def __init__(self, limit: int = RECENT_LIMIT, ids: Iterable[str] = ()) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()
        for one in ids:
            self.add(one)

    def add(self, process_action_id: str) -> None:
        """Remember ``process_action_id`` as the most recent; the oldest goes past ``limit``."""
        self._ids[process_action_id] = None
        self._ids.move_to_end(process_action_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def __contains__(self, process_action_id: object) -> bool:
        return process_action_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecentIds):
            return list(self) == list(other)
        return NotImplemented

    def __reduce__(self) -> Any:  # pickled with its limit, like SeenResponses
        return (type(self), (self.limit, list(self._ids)))


@dataclass(slots=True)
class World:
    """One M-Instance's state (see the module docstring). Ids are ``mmm://`` ids."""

    m_instance_id: str
    profile: Profile
    rules: RuleBook
    processes: dict[str, Process] = field(default_factory=dict)
    items: MutableMapping[str, dict[str, Any]] = field(default_factory=dict)
    """ItemID -> Item: a ``dict``, or in a node the bounded-memory :class:`~instance.world.spill.SpilledDocs`."""
    rights: MutableMapping[str, Right] = field(default_factory=dict)
    """RightsID -> Right: a ``dict``, or in a node the indexed :class:`~instance.world.spill.SpilledRights`."""
    locations: dict[str, str | None] = field(default_factory=dict)
    """M-Location ItemID -> the M-Location it lies in (None: top level)."""
    placements: dict[str, str] = field(default_factory=dict)
    """Placed ItemID -> M-Location ItemID (MM-Add, MM-Move)."""
    placed_by: dict[str, str] = field(default_factory=dict)
    public_locations: set[str] = field(default_factory=set)
    wallets: dict[str, dict[str, int]] = field(default_factory=dict)
    """WalletID -> CurrencyID -> Amount (minor units)."""
    transactions: MutableMapping[str, dict[str, Any]] = field(default_factory=dict)
    """TransactionID -> TRA Item (a ``dict``, or in a node a :class:`~instance.world.spill.SpilledDocs`)."""
    consumed: set[str] = field(default_factory=set)
    """TransactionIDs already used to pay for a Process Action (each pays once)."""
    prices: dict[tuple[str, Action], Value] = field(default_factory=dict)
    foreign_prices: dict[tuple[str, Action], Value] = field(default_factory=dict)
    offers: dict[str, str] = field(default_factory=dict)
    """ItemID -> the Service that grants Rights on it to whoever asks (parcels, rooms)."""
    conversions: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    """Conversion Service ProcessID -> the (from Format, to Format) pairs it converts."""
    presence: dict[str, bool] = field(default_factory=dict)
    inboxes: dict[str, list[str]] = field(default_factory=dict)
    renderings: list[Rendering] = field(default_factory=list)
    animations: dict[str, str] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    posted: dict[str, str] = field(default_factory=dict)
    validated: dict[str, str] = field(default_factory=dict)
    pending: dict[str, tuple[ProcessActionRequest, str | None]] = field(default_factory=dict)
    """Deferred requests (If Event, Must obligations) by ProcessActionID, with their origin."""
    seen: SeenResponses = field(default_factory=lambda: SeenResponses())
    """ProcessActionID -> (request fingerprint, response) of the latest decisions: a retry gets
    the same answer (older ones are found in Activity Data, so memory stays bounded)."""
    performed: RecentIds = field(default_factory=lambda: RecentIds())
    """The latest ProcessActionIDs performed (Ack and done, not merely deferred): an If Event on a
    ProcessActionID waits for one of these (older ones are found in Activity Data)."""
    personae: dict[str, list[str]] = field(default_factory=dict)
    """User ProcessID -> its Persona ItemIDs, oldest first (Register; a roaming User's too)."""
    reports: list[str] = field(default_factory=list)
    """ItemIDs of the Fault Behaviour / Fault Detection Reports raised, in order."""
    ledger: WalletLedger | None = None
    """Where the Wallets in the ledger's currency are kept (None: every currency in ``wallets``)."""

    # Identity

    def is_local(self, identifier: str) -> bool:
        """Whether ``identifier`` names something of this M-Instance."""
        return instance_or_none(identifier) == self.m_instance_id

    def id(self, kind: str, local: str) -> str:
        """``mmm://<this M-Instance>/<kind>/<local>``."""
        return f"mmm://{self.m_instance_id}/{kind}/{local}"

    def acts_here(self, process_id: str) -> bool:
        """Whether ``process_id`` may ask this M-Instance's engine directly (not through Resolution):
        a Process of this M-Instance, or a User of another roaming here (registered on arrival,
        FGMV-43 9.1 step 4, IDIR-103), whose avatar and Rights are here."""
        if process_id not in self.processes:
            return False
        return self.is_local(process_id) or self.visitor_item_id(process_id) in self.items

    def visitor_item_id(self, process_id: str) -> str:
        """The ItemID of the PRC Item of a roaming User here (its ProcessID stays the home one)."""
        return self.id("visitors", str(uuid.uuid5(uuid.NAMESPACE_URL, process_id)))

    # Rights

    def rights_of(self, holder_id: str) -> list[Right]:
        """Every Right ``holder_id`` holds (from the holder index of a spilled ``rights``)."""
        held_by = getattr(self.rights, "held_by", None)
        if held_by is not None:
            return list(held_by(holder_id))
        return [r for r in self.rights.values() if r.holder_id == holder_id]

    def rights_on(self, target_id: str) -> list[Right]:
        """Every Right on ``target_id`` (from the target index of a spilled ``rights``)."""
        on_target = getattr(self.rights, "on_target", None)
        if on_target is not None:
            return list(on_target(target_id))
        return [r for r in self.rights.values() if r.target_id == target_id]

    def held_on(self, holder_id: str, target_ids: tuple[str, ...]) -> list[Right]:
        """The Rights ``holder_id`` holds on any of ``target_ids`` (from the (holder, target)
        index of a spilled ``rights``, which keeps only small holders' Rights in memory)."""
        held_on = getattr(self.rights, "held_on", None)
        if held_on is not None:
            return list(held_on(holder_id, target_ids))
        return [r for r in self.rights_of(holder_id) if r.target_id in target_ids]

    def covering(self, holder_id: str, action: Action, target_id: str | None, at_ms: int) -> list[Right]:
        """The Rights of ``holder_id`` that speak about ``action`` on ``target_id`` at ``at_ms``
        (a Right on ``target_id`` or on any target, :data:`~instance.world.model.ANY_TARGET`)."""
        targets = (ANY_TARGET,) if target_id is None else (ANY_TARGET, target_id)
        return [r for r in self.held_on(holder_id, targets) if r.covers(action, target_id, at_ms)]

    def may(self, holder_id: str, action: Action, target_id: str | None, at_ms: int) -> bool:
        """A May Right covers it and no May Not Right does (May Not wins)."""
        covering = self.covering(holder_id, action, target_id, at_ms)
        return any(r.verb is DeonticVerb.MAY for r in covering) and not any(
            r.verb is DeonticVerb.MAY_NOT for r in covering
        )

    def owner_rights(
        self,
        holder_id: str,
        target_id: str,
        actions: frozenset[Action],
        *,
        granted_by: str,
        at_ms: int,
        level: Any,
        tag: str,
    ) -> list[Right]:
        """May Rights of ``holder_id`` on ``target_id`` for ``actions`` (ids derived from ``tag``)."""
        return [
            Right(f"{tag}#{action.value}", holder_id, DeonticVerb.MAY, action, target_id, level, granted_by, at_ms)
            for action in sorted(actions)
        ]

    def capabilities_doc(self, item_id: str) -> list[dict[str, Any]]:
        """The ICapabilities of ``item_id``: who holds May Rights on it now, and for what."""
        by_holder: dict[str, set[str]] = {}
        for right in self.rights_on(item_id):
            if right.verb is DeonticVerb.MAY:
                by_holder.setdefault(right.holder_id, set()).add(right.action.value)
        return [{"ProcessID": pid, "Rights": sorted(names)} for pid, names in sorted(by_holder.items())]

    # Assets (held in the asset ledger, the World's durable store for them)

    @property
    def transfer_service(self) -> str:
        """The Asset Transfer Service Process (``seed.TRANSFER_SERVICE``)."""
        return self.id("processes", "transfers")

    def is_asset(self, item_id: str | None) -> bool:
        """Whether ``item_id`` is an Asset held here (an ASS Item adopted from the asset ledger)."""
        return item_id is not None and self.items.get(item_id, {}).get("ItemType") == "ASS"

    def adopt_asset(self, doc: Mapping[str, Any], *, locked_by: str = "") -> None:
        """Hold an Asset of the asset ledger: its Item, and as Rights what its ICapabilities give
        (Level Acquired); ``locked_by``: the transfer in flight, for which the Asset Transfer
        Service holds the Right to Rights Manage it (the commit or the abort)."""
        asset_id = str(doc["ItemID"])
        self.forget_asset(asset_id)
        self.items[asset_id] = dict(doc)
        for entry in doc.get("ICapabilities") or ():
            holder = str(entry.get("ProcessID", ""))
            for name in entry.get("Rights") or ():
                try:
                    action = Action(name)
                except ValueError:
                    continue  # an Action this Profile does not know gives no Right here
                right_id = f"{asset_id}#{holder}#{action.value}"
                granted_by = str(doc.get("ProducerProcessID") or holder)
                self.rights[right_id] = Right(
                    right_id, holder, DeonticVerb.MAY, action, asset_id, RightLevel.ACQUIRED, granted_by, 0
                )
        if locked_by:
            self.hold_for_transfer(asset_id, granted_by=self.transfer_service, at_ms=0)

    def hold_for_transfer(self, asset_id: str, *, granted_by: str, at_ms: int) -> None:
        """The Asset Transfer Service may Rights Manage ``asset_id`` until its transfer is decided."""
        right_id = f"{asset_id}#transfer"
        self.rights[right_id] = Right(
            right_id,
            self.transfer_service,
            DeonticVerb.MAY,
            Action.RIGHTS_MANAGE,
            asset_id,
            RightLevel.GRANTED,
            granted_by,
            at_ms,
        )

    def release_from_transfer(self, asset_id: str) -> None:
        """The transfer of ``asset_id`` is decided: the Asset Transfer Service's Right ends."""
        self.rights.pop(f"{asset_id}#transfer", None)

    def forget_asset(self, asset_id: str) -> None:
        """The Asset is not held here any more (it migrated): its Item and every Right on it go."""
        self.items.pop(asset_id, None)
        for right_id in [r.rights_id for r in self.rights_on(asset_id)]:
            del self.rights[right_id]

    # Wallets

    def balance(self, wallet_id: str, currency_id: str) -> int:
        return self.wallets.get(wallet_id, {}).get(currency_id, 0)

    def move_value(self, payer_wallet: str, payee_wallet: str, value: Value) -> None:
        """Debit one Wallet and credit the other by ``value`` (amounts are integers, never floats)."""
        payer = self.wallets.setdefault(payer_wallet, {})
        payer[value.currency_id] = payer.get(value.currency_id, 0) - value.amount_minor
        payee = self.wallets.setdefault(payee_wallet, {})
        payee[value.currency_id] = payee.get(value.currency_id, 0) + value.amount_minor

    def clearing_wallet(self, m_instance_id: str) -> str:
        """The Wallet that holds what this M-Instance owes to or is owed by ``m_instance_id``
        (:func:`settlement_account`, the one name the World and the asset ledger use)."""
        return settlement_account(m_instance_id)

    def location_chain(self, location_id: str) -> list[str]:
        """``location_id`` and the M-Locations that contain it, innermost first."""
        chain: list[str] = []
        current: str | None = location_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.locations.get(current)
        return chain


def settlement_account(m_instance_id: str) -> str:
    """The account of what crossed between this M-Instance and ``m_instance_id``
    (``settlement:<m>``): the World's clearing Wallet for it and the asset ledger's settlement
    account are this one account."""
    return f"settlement:{m_instance_id}"


def right_summary(right: Right) -> Mapping[str, Any]:
    """A Right as plain JSON (for RS Items and reports)."""
    return {
        "RightsID": right.rights_id,
        "HolderID": right.holder_id,
        "DeonticVerb": right.verb.value,
        "Action": right.action.value,
        "TargetID": right.target_id,
        "Level": right.level.value,
        "GrantedBy": right.granted_by,
    }


__all__ = [
    "ANY_TARGET",
    "RECENT_LIMIT",
    "RecentIds",
    "Rendering",
    "SeenResponses",
    "WalletLedger",
    "World",
    "right_summary",
    "settlement_account",
]
