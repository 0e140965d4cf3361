"""MMM-TEC V2.2 data types for Process Actions: Actions, Rights, Processes, PA Status, Profiles.

Names follow ``/work/shared/TERMS.md`` and the MMM-TEC overview (``spec/000_*``): a Process Action
Request is "deontic verb + Action + set of Complements (Nil/At/From/To/With) + Item or ProcessID";
its PA Status is Ack, Request (with a Value) or Error with one of nine codes. Rights carry a
DeonticVerb (May | May Not | Must), the Process Action they cover and a Level (Internal | Acquired |
Granted).

Every class here is an immutable value. :class:`Right` checks its own fields (it is built by a
Rights manager); :class:`ProcessActionRequest` does not, because the engine must answer a malformed
request with Error FaultyReq instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mmmfed.errors import InvalidInput

ANY_TARGET = "*"
"""A Right whose target is ``"*"`` covers its Action on every Item and Process."""


class Action(StrEnum):
    """The Actions of MMM-TEC V2.2 (AnyAction); values are the spec's spelling."""

    AUTHENTICATE = "Authenticate"
    AUTHOR = "Author"
    CONVERT = "Convert"
    DISCOVER = "Discover"
    EXECUTE = "Execute"
    HIDE = "Hide"
    IDENTIFY = "Identify"
    INFORM = "Inform"
    INTERPRET = "Interpret"
    MM_ADD = "MM-Add"
    MM_ANIMATE = "MM-Animate"
    MM_CAPTURE = "MM-Capture"
    MM_MOVE = "MM-Move"
    MM_SEND = "MM-Send"
    MODIFY = "Modify"
    MU_ACTUATE = "MU-Actuate"
    MU_ADD = "MU-Add"
    MU_ANIMATE = "MU-Animate"
    MU_MOVE = "MU-Move"
    MU_SEND = "MU-Send"
    POST = "Post"
    PROPERTY_MANAGE = "Property Manage"
    REGISTER = "Register"
    RESOLVE = "Resolve"
    RIGHTS_MANAGE = "Rights Manage"
    TRANSACT = "Transact"
    UM_CAPTURE = "UM-Capture"
    UM_SEND = "UM-Send"
    VALIDATE = "Validate"


ACTIONS_WITHOUT_TARGET: frozenset[Action] = frozenset({Action.REGISTER, Action.DISCOVER})
"""Actions a request may make without a Nil Complement: a Process Registers itself, and Discover
is a query. Every other Action acts on an Item or Process named by the request's Nil Complement."""


class DeonticVerb(StrEnum):
    """Permission, Prohibition or Obligation."""

    MAY = "May"
    MAY_NOT = "May Not"
    MUST = "Must"


class RightLevel(StrEnum):
    """Where a Right comes from: assigned at Registration, obtained by the Process, or given to it."""

    INTERNAL = "Internal"
    ACQUIRED = "Acquired"
    GRANTED = "Granted"


@dataclass(frozen=True, slots=True)
class Right:
    """One Right: ``holder_id`` May / May Not / Must perform ``action`` on ``target_id``.

    Valid from ``valid_from_ms`` (inclusive) until ``valid_until_ms`` (exclusive; None: no end),
    both Unix ms. ``granted_by`` is the ProcessID that gave it (the M-Instance for Internal Rights).

    Raises:
        InvalidInput: an empty id, a wrong enum type or an empty validity window.
    """

    rights_id: str
    holder_id: str
    verb: DeonticVerb
    action: Action
    target_id: str
    level: RightLevel
    granted_by: str
    valid_from_ms: int = 0
    valid_until_ms: int | None = None

    def __post_init__(self) -> None:
        for name in ("rights_id", "holder_id", "target_id", "granted_by"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidInput(f"Right {name} must be a non-empty string", metadata={"field": name})
        for name, kind in (("verb", DeonticVerb), ("action", Action), ("level", RightLevel)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidInput(f"Right {name} must be a {kind.__name__}", metadata={"field": name})
        if self.valid_until_ms is not None and self.valid_until_ms <= self.valid_from_ms:
            raise InvalidInput(
                f"Right {self.rights_id} ends ({self.valid_until_ms}) before it starts ({self.valid_from_ms})",
                metadata={"rights_id": self.rights_id},
            )

    def in_force(self, at_ms: int) -> bool:
        """Whether ``at_ms`` lies in the validity window."""
        return self.valid_from_ms <= at_ms and (self.valid_until_ms is None or at_ms < self.valid_until_ms)

    def covers(self, action: Action, target_id: str | None, at_ms: int) -> bool:
        """Whether this Right speaks about ``action`` on ``target_id`` (None: no target) at ``at_ms``."""
        if self.action is not action or not self.in_force(at_ms):
            return False
        return self.target_id == ANY_TARGET or self.target_id == target_id


class ProcessType(StrEnum):
    APP = "App"
    DEVICE = "Device"
    SERVICE = "Service"
    USER = "User"


@dataclass(frozen=True, slots=True)
class Process:
    """A Process and the Actions it can perform (its Capabilities).

    ``wallet_id`` names its Wallet, if it has one; ``account_type`` is its Account type (Users).
    A Process of another M-Instance (its id names that instance) is known here only through
    Resolution or a Right granted to it.
    """

    process_id: str
    type: ProcessType
    capabilities: frozenset[Action] = field(default_factory=frozenset)
    wallet_id: str | None = None
    account_type: str | None = None


class PAErrorCode(StrEnum):
    """The PA Status error codes of MMM-TEC V2.2."""

    CLASH = "Clash"
    FAULTY_REQ = "FaultyReq"
    INC_ID = "IncID"
    INC_DQ = "IncDQ"
    INS_RIGHTS = "InsRights"
    INS_VALUE = "InsValue"
    LOC_OOR = "LocOOR"
    POST_REF = "PostRef"
    QUAL_NS = "QualNS"


@dataclass(frozen=True, slots=True)
class Value:
    """An Amount in a Currency, in the currency's minor unit (no floats for money)."""

    amount_minor: int
    currency_id: str


class PAStatusKind(StrEnum):
    ACK = "Ack"
    REQUEST = "Request"
    ERROR = "Error"


@dataclass(frozen=True, slots=True)
class PAStatus:
    """The outcome of a Process Action Request. Build with :meth:`ack`, :meth:`request`, :meth:`error`."""

    kind: PAStatusKind
    value: Value | None = None
    error: PAErrorCode | None = None
    reason: str = ""

    @classmethod
    def ack(cls, reason: str = "") -> PAStatus:
        return cls(PAStatusKind.ACK, reason=reason)

    @classmethod
    def request(cls, value: Value, reason: str = "") -> PAStatus:
        """The requested Process asks to be paid ``value`` first."""
        return cls(PAStatusKind.REQUEST, value=value, reason=reason)

    @classmethod
    def fail(cls, code: PAErrorCode, reason: str) -> PAStatus:
        return cls(PAStatusKind.ERROR, error=code, reason=reason)

    @property
    def is_ack(self) -> bool:
        return self.kind is PAStatusKind.ACK


class ComplementKind(StrEnum):
    NIL = "Nil"
    AT = "At"
    FROM = "From"
    TO = "To"
    WITH = "With"
    OF = "Of"


@dataclass(frozen=True, slots=True)
class Complement:
    """A Complement naming an Item (``is_process`` False) or a Process (``ref_id``); Nil names the
    Action's direct object (NilItem / NilProcess, AtItem, ToProcess, ... in MMM-TEC)."""

    kind: ComplementKind
    ref_id: str
    is_process: bool = False


def complements(
    *,
    nil: str | None = None,
    at: str | None = None,
    to: str | None = None,
    frm: str | None = None,
    of: str | None = None,
    with_: str | None = None,
) -> tuple[Complement, ...]:
    """The Complements given, in the order Nil, At, To, From, Of, With; an id with a
    ``/processes/`` segment names a Process (the ids this project makes), any other an Item."""
    given = (
        (ComplementKind.NIL, nil),
        (ComplementKind.AT, at),
        (ComplementKind.TO, to),
        (ComplementKind.FROM, frm),
        (ComplementKind.OF, of),
        (ComplementKind.WITH, with_),
    )
    return tuple(Complement(kind, ref, is_process="/processes/" in ref) for kind, ref in given if ref is not None)


@dataclass(frozen=True, slots=True)
class IfEvent:
    """The condition of a deferred request (MMM-TEC "If Event"): exactly one of

    * ``process_action_id``: when that Process Action is performed (Ack);
    * ``at_time_ms``: when the M-Instance's clock reaches this Unix time (ms);
    * ``action`` (and optionally ``item_id``): when any Process Action with this Action (on this
      Item, named by its Nil or At Complement) is performed.
    """

    process_action_id: str | None = None
    at_time_ms: int | None = None
    action: Action | None = None
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class RightSpec:
    """A Right asked for in a Rights Manage request: the holder is the request's To (grant) or From
    (withdraw) Process, the target its Nil Item or Process."""

    verb: DeonticVerb
    action: Action
    level: RightLevel = RightLevel.GRANTED
    valid_from_ms: int = 0
    valid_until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ProcessActionRequest:
    """``source_id`` asks ``destination_id`` to perform ``verb`` ``action`` with ``complements`` at ``time_ms``.

    ``process_action_id`` is the request's ProcessActionID (an ``mmm://`` id of the source's
    M-Instance; a retry reuses it). ``payment`` is the Value the source offers when the destination
    charges for the Action (its With Complement names the Transaction that paid it). ``rights``
    are the Rights a Rights Manage request grants or withdraws. ``items`` are the Items the request
    carries (drafts for Register, Author and Modify; the source M-Instance's signed Items when the
    request comes through Resolution), as parsed JSON objects. ``if_event`` defers the request.
    Not validated on construction: the engine answers a malformed request with Error FaultyReq.
    """

    verb: DeonticVerb
    action: Action
    source_id: str
    destination_id: str
    complements: tuple[Complement, ...] = ()
    time_ms: int = 0
    payment: Value | None = None
    process_action_id: str = ""
    if_event: IfEvent | None = None
    rights: tuple[RightSpec, ...] = ()
    items: tuple[Mapping[str, Any], ...] = ()

    def complement(self, kind: ComplementKind) -> str | None:
        """The id named by the first Complement of ``kind``, or None."""
        return next((c.ref_id for c in self.complements if c.kind is kind), None)

    def carried(self, item_id: str) -> Mapping[str, Any] | None:
        """The carried Item whose ItemID is ``item_id``, or None."""
        return next((i for i in self.items if isinstance(i, Mapping) and i.get("ItemID") == item_id), None)


@dataclass(frozen=True, slots=True)
class ProcessActionResponse:
    """The answer to a request: its PA Status, the RS Complements naming what it produced or found,
    and those Items (JSON objects), at ``time_ms`` (Unix ms). ``decided_by`` is the M-Instance that
    decided a request resolved elsewhere (empty: decided here)."""

    process_action_id: str
    status: PAStatus
    complements: tuple[Complement, ...] = ()
    items: tuple[Mapping[str, Any], ...] = ()
    time_ms: int = 0
    decided_by: str = ""


FINANCIAL_ITEM_TYPES: frozenset[str] = frozenset({"ASS", "TRA", "VAL", "WAL", "CUO", "SPM", "MKC", "FER"})
"""Asset, Transaction, Value, Wallet, Currency Object, Service Pricing Model, Market Classes and
Financial Error Report: the Items of trading, outside the Baseline Profile."""

_BASELINE: frozenset[Action] = frozenset(
    {
        Action.REGISTER,
        Action.AUTHENTICATE,
        Action.IDENTIFY,
        Action.AUTHOR,
        Action.MODIFY,
        Action.CONVERT,
        Action.DISCOVER,
        Action.INFORM,
        Action.POST,
        Action.HIDE,
        Action.VALIDATE,
        Action.MM_ADD,
        Action.MM_MOVE,
        Action.MM_SEND,
        Action.MM_ANIMATE,
        Action.MU_ACTUATE,
        Action.MU_ADD,
        Action.RESOLVE,
        Action.RIGHTS_MANAGE,
    }
)
_FINANCE = _BASELINE | {Action.TRANSACT}
_MANAGEMENT = _FINANCE | {Action.EXECUTE, Action.INTERPRET, Action.PROPERTY_MANAGE}
_HIGH = frozenset(Action)


class Profile(StrEnum):
    """MMM-TEC Profiles and the Actions each supports.

    The overview (``spec/000_*``) says only: "A Profile includes only a subset of the Actions and
    Items ... Baseline Profile enables basic applications such as lecture, meeting, and hang-out.
    Finance Profile enables trading activities. Management Profile enables a controlled ecosystem
    with more advanced functionalities. High Profile enables all the functionalities of the
    Management Profile with a few additional functionalities of its own." Its Figure 1, which lists
    the Actions, is not in the stored text. So: Baseline is the list chosen for this project;
    Finance adds Transact ("trading"); Management adds Execute, Interpret and Property Manage (our
    reading of "controlled ecosystem"; an assumption); High supports every V2.2 Action (it is a
    superset of Management). Each Profile includes the one before it.
    """

    BASELINE = "Baseline"
    FINANCE = "Finance"
    MANAGEMENT = "Management"
    HIGH = "High"

    @property
    def actions(self) -> frozenset[Action]:
        return _PROFILE_ACTIONS[self]

    def supports_item_type(self, item_type: str) -> bool:
        """Whether Items of ``item_type`` (a TERMS.md code such as ``WAL``) exist in this Profile:
        the Baseline Profile has no trading, so none of the financial Item types."""
        return self is not Profile.BASELINE or item_type not in FINANCIAL_ITEM_TYPES


_PROFILE_ACTIONS: dict[Profile, frozenset[Action]] = {
    Profile.BASELINE: _BASELINE,
    Profile.FINANCE: _FINANCE,
    Profile.MANAGEMENT: _MANAGEMENT,
    Profile.HIGH: _HIGH,
}
