"""Decide the PA Status of a Process Action Request from the Profile, Capabilities and Rights.

The checks run in this order and the first that fails gives the answer:

1. Error FaultyReq: the request is malformed (wrong field types, an empty id, a negative time, a
   deontic verb other than May, more than one Nil Complement, or no Nil Complement for an Action
   that acts on an Item or Process; see :data:`~instance.mmm.model.ACTIONS_WITHOUT_TARGET`).
2. Error IncID: the source or destination ProcessID is not a Process of this M-Instance.
3. Error LocOOR: the Action is outside the M-Instance's Profile or the destination Process's
   Capabilities. MMM-TEC names no code for "not supported here"; QualNS is about Qualifiers the
   Process cannot handle, so we read LocOOR ("out of range") as "outside what this Process / this
   Profile can reach" (a project choice).
4. Error InsRights: no May Right of the source covers (Action, target) at the request's time, or a
   May Not Right covers it (May Not wins over May). The target is the Nil Complement's id (None
   for Actions without a target: only ``"*"`` Rights cover those).
5. Request with a Value: the destination charges for the Action and the request offers no payment;
   Error InsValue if the offered payment is in another Currency or smaller than the price.
6. Ack.

Out of scope, on purpose: Must obligations (a Must Right neither permits nor forbids here, and a
Must request is FaultyReq), If Events, Items' own Capabilities, and the codes Clash, IncDQ,
PostRef and QualNS, which need Items and Qualifiers this module does not hold.

:meth:`ProcessActionEngine.evaluate` never raises for a bad request; :meth:`grant` and
:meth:`revoke` (Rights Manage) raise :class:`~mmmfed.errors.MmmfedError` subclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from instance.mmm.model import (
    ACTIONS_WITHOUT_TARGET,
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatus,
    Process,
    ProcessActionRequest,
    Profile,
    Right,
    Value,
)
from mmmfed.errors import AlreadyExists, NotFound

PriceList = Mapping[tuple[str, Action], Value]
"""What a destination Process charges for an Action: (ProcessID, Action) -> Value."""


class ProcessActionEngine:
    """Evaluates Process Action Requests for one M-Instance (see the module docstring for the rules).

    Args:
        profile: the MMM-TEC Profile the M-Instance implements.
        processes: its Processes (ProcessIDs must be unique).
        rights: the Rights in force at start; each holder must be one of ``processes``.
        prices: optional per-Process, per-Action prices (keyword-only).
    """

    def __init__(
        self,
        profile: Profile,
        processes: Iterable[Process],
        rights: Iterable[Right] = (),
        *,
        prices: PriceList | None = None,
    ) -> None:
        self.profile = profile
        self._processes: dict[str, Process] = {}
        for process in processes:
            if process.process_id in self._processes:
                raise AlreadyExists(f"Process {process.process_id} is given twice")
            self._processes[process.process_id] = process
        self._prices: dict[tuple[str, Action], Value] = dict(prices or {})
        self._rights: dict[str, Right] = {}
        for right in rights:
            self.grant(right)

    # Rights Manage

    def grant(self, right: Right) -> None:
        """Add ``right``. Raises NotFound for an unknown holder, AlreadyExists for a taken RightsID."""
        if right.holder_id not in self._processes:
            raise NotFound(f"no Process {right.holder_id} to hold Right {right.rights_id}")
        if right.rights_id in self._rights:
            raise AlreadyExists(f"Right {right.rights_id} already exists", metadata={"rights_id": right.rights_id})
        self._rights[right.rights_id] = right

    def revoke(self, rights_id: str) -> Right:
        """Remove and return the Right ``rights_id``. Raises NotFound if there is none."""
        try:
            return self._rights.pop(rights_id)
        except KeyError:
            raise NotFound(f"no Right {rights_id}", metadata={"rights_id": rights_id}) from None

    def rights_of(self, holder_id: str) -> tuple[Right, ...]:
        """The Rights ``holder_id`` holds now, in grant order."""
        return tuple(r for r in self._rights.values() if r.holder_id == holder_id)

    # Evaluation

    def evaluate(self, request: ProcessActionRequest) -> PAStatus:
        """The PA Status of ``request``; never raises for a bad request."""
        if not isinstance(request, ProcessActionRequest):
            return PAStatus.fail(PAErrorCode.FAULTY_REQ, "not a Process Action Request")
        problem = _malformed(request)
        if problem is not None:
            return PAStatus.fail(PAErrorCode.FAULTY_REQ, problem)
        for role, process_id in (("source", request.source_id), ("destination", request.destination_id)):
            if process_id not in self._processes:
                return PAStatus.fail(PAErrorCode.INC_ID, f"unknown {role} Process {process_id}")
        action = request.action
        if action not in self.profile.actions:
            return PAStatus.fail(PAErrorCode.LOC_OOR, f"{action.value} is not in the {self.profile.value} Profile")
        if action not in self._processes[request.destination_id].capabilities:
            return PAStatus.fail(PAErrorCode.LOC_OOR, f"{action.value} is not a Capability of {request.destination_id}")
        target_id = _target(request.complements)
        refusal = self._rights_refusal(request.source_id, action, target_id, request.time_ms)
        if refusal is not None:
            return PAStatus.fail(PAErrorCode.INS_RIGHTS, refusal)
        return self._payment_status(request)

    def _rights_refusal(self, source_id: str, action: Action, target_id: str | None, at_ms: int) -> str | None:
        covering = [r for r in self.rights_of(source_id) if r.covers(action, target_id, at_ms)]
        on = target_id or "(no target)"
        forbidding = [r.rights_id for r in covering if r.verb is DeonticVerb.MAY_NOT]
        if forbidding:
            return f"{source_id} May Not {action.value} {on} at {at_ms} (Right {forbidding[0]})"
        if not any(r.verb is DeonticVerb.MAY for r in covering):
            return f"no May Right of {source_id} covers {action.value} {on} at {at_ms}"
        return None

    def _payment_status(self, request: ProcessActionRequest) -> PAStatus:
        price = self._prices.get((request.destination_id, request.action))
        if price is None:
            return PAStatus.ack()
        paid = request.payment
        if paid is None:
            return PAStatus.request(price, f"{request.destination_id} charges for {request.action.value}")
        if paid.currency_id != price.currency_id or paid.amount_minor < price.amount_minor:
            return PAStatus.fail(
                PAErrorCode.INS_VALUE,
                f"offered {paid.amount_minor} {paid.currency_id}, price {price.amount_minor} {price.currency_id}",
            )
        return PAStatus.ack()


def _target(complements: tuple[Complement, ...]) -> str | None:
    return next((c.ref_id for c in complements if c.kind is ComplementKind.NIL), None)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _malformed(request: ProcessActionRequest) -> str | None:
    """Why ``request`` is malformed, or None."""
    if not isinstance(request.verb, DeonticVerb):
        return "unknown deontic verb"
    if request.verb is not DeonticVerb.MAY:
        return f"a request with {request.verb.value} is not evaluated (only May requests; no Must obligations)"
    if not isinstance(request.action, Action):
        return "unknown Action"
    if not (_nonempty_str(request.source_id) and _nonempty_str(request.destination_id)):
        return "source and destination ProcessIDs must be non-empty strings"
    if isinstance(request.time_ms, bool) or not isinstance(request.time_ms, int) or request.time_ms < 0:
        return "time_ms must be a non-negative integer"
    if not isinstance(request.complements, tuple) or not all(
        isinstance(c, Complement) and isinstance(c.kind, ComplementKind) and _nonempty_str(c.ref_id)
        for c in request.complements
    ):
        return "complements must be a tuple of Complements with a kind and a non-empty id"
    nils = sum(1 for c in request.complements if c.kind is ComplementKind.NIL)
    if nils > 1:
        return "more than one Nil Complement"
    if nils == 0 and request.action not in ACTIONS_WITHOUT_TARGET:
        return f"{request.action.value} needs a Nil Complement naming its Item or Process"
    paid = request.payment
    if paid is not None and not (
        isinstance(paid, Value)
        and isinstance(paid.amount_minor, int)
        and not isinstance(paid.amount_minor, bool)
        and paid.amount_minor >= 0
        and _nonempty_str(paid.currency_id)
    ):
        return "payment must be a Value with a non-negative integer amount and a Currency"
    return None
