"""The Process Action engine of the reference M-Instance (MMM-TEC V2.2 Inter-Process Protocol).

:meth:`ProcessActionEngine.handle` decides one request and answers with a PA Status. The checks
run in this order; the first that fails gives the answer and nothing changes:

1. The same ProcessActionID seen before: the same request gets the same response again (a retry);
   different content under that id is Error Clash.
2. Error FaultyReq: malformed (types, ids, a May Not request, Complements, payment).
3. Error IncID: the source is not a Process of this M-Instance (or, through Resolution, of the
   M-Instance the request came from), or the destination is not a Process of this M-Instance.
4. Error FaultyReq: the Action is outside this M-Instance's Profile, has no handler here, or is
   not among the destination's Capabilities, or a carried Item's type is outside the Profile
   (MMM-TEC names no code for "not supported"; the reason says which).
5. Error InsRights: through Resolution, the Rules do not let Processes of other M-Instances ask
   for this Action (a broken Rule: a Fault Detection Report); or the Process whose authority the
   Action needs (``actions/authority.py``) holds no May Right covering each Item it touches, or a
   May Not Right covers one.
6. The Action's handler (``actions/``): its own checks (IncID, Clash, IncDQ, LocOOR, PostRef,
   QualNS, InsValue...), Rules it enforces (a broken one raises a Fault Behaviour Report, or a
   Fault Detection Report for a Process of another M-Instance).
7. The destination's price (Service Pricing Model): Request with a Value when unpaid; InsValue or
   Clash for a wrong or reused payment.
8. Ack: the handler's changes are applied, in order.

A request with an If Event is checked up to step 4 and then deferred (Ack, reason "deferred"):
it runs when the event happens, a Process Action being performed (by ProcessActionID, or any
with a given Action on a given Item) or the clock reaching a Time (:meth:`tick`). A Must request
that ends in an Error, now or when triggered, raises a Fault Behaviour Report: an obligation not
met. Every decision, performed or refused, is appended to the Activity Data before the answer is
returned; on start, :meth:`replay` rebuilds the World from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from instance.world.actions import HANDLERS, ActionContext, Handler
from instance.world.actions.authority import authority, rights_targets
from instance.world.actions.base import BrokenRule
from instance.world.actions.value import payment_status, price_of
from instance.world.activity import RESOLUTION_TRIGGER, ActivityLog
from instance.world.codec import request_from_json, request_to_json, response_from_json
from instance.world.itemdocs import iso, item_doc, local_part
from instance.world.model import (
    ACTIONS_WITHOUT_TARGET,
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatus,
    ProcessActionRequest,
    ProcessActionResponse,
    Value,
)
from instance.world.world import World
from mmmfed.errors import InvalidInput
from mmmfed.items import instance_or_none as _instance

MAX_TRIGGER_DEPTH = 8
"""A Process Action triggered by a triggered one ... at most this deep; deeper ones stay pending."""


class ProcessActionEngine:
    """Decides Process Action requests for one World and records them in its Activity Data."""

    def __init__(self, world: World, activity: ActivityLog, *, handlers: dict[Action, Handler] | None = None) -> None:
        self.world = world
        self.activity = activity
        self._handlers = HANDLERS if handlers is None else handlers
        self._replaying = False

    # Public API

    def handle(self, request: ProcessActionRequest, *, origin: str | None = None) -> ProcessActionResponse:
        """Decide ``request`` (see the module docstring). ``origin`` is the M-Instance a request
        came from through Resolution (its gateway verified it and its carried Items); None for a
        local Process. Never raises for a bad request: the PA Status says what is wrong."""
        if not isinstance(request, ProcessActionRequest):
            # Nothing to record: the wire codec only ever builds ProcessActionRequests.
            return ProcessActionResponse("", PAStatus.fail(PAErrorCode.FAULTY_REQ, "not a Process Action Request"))
        return self._run(request, origin=origin, trigger=None, depth=0)

    def tick(self, now_ms: int) -> list[ProcessActionResponse]:
        """Run the deferred requests whose If Event Time is at or before ``now_ms`` (Unix ms), in
        time order. Returns their responses."""
        due = sorted(
            (req.if_event.at_time_ms, pa_id)
            for pa_id, (req, _) in self.world.pending.items()
            if req.if_event is not None and req.if_event.at_time_ms is not None and req.if_event.at_time_ms <= now_ms
        )
        return [self._fire(pa_id, trigger="time", at_ms=at_ms, depth=0) for at_ms, pa_id in due]

    def replay(self) -> int:
        """Rebuild the World by deciding the recorded requests again, in order, without recording
        them or firing triggers (each triggered request has its own record). Returns how many."""
        self._replaying = True
        count = 0
        try:
            for record in list(self.activity):
                if record.trigger == RESOLUTION_TRIGGER:
                    continue  # decided by another M-Instance: nothing changed here
                if record.destination_id == self.world.transfer_service:
                    continue  # an Asset transfer: the asset ledger holds its outcome (adopted after replay)
                try:
                    request = request_from_json(record.request)
                except InvalidInput:
                    continue  # a malformed request was refused and changed nothing
                if record.trigger is not None:
                    self.world.pending.pop(request.process_action_id, None)
                self._run(request, origin=record.origin, trigger=record.trigger, depth=0)
                count += 1
        finally:
            self._replaying = False
        return count

    # Pipeline

    def _run(
        self, request: ProcessActionRequest, *, origin: str | None, trigger: str | None, depth: int
    ) -> ProcessActionResponse:
        problem = malformed(request)
        if problem is not None:
            return self._finish(request, origin, trigger, PAStatus.fail(PAErrorCode.FAULTY_REQ, problem), None, depth)
        fingerprint = _fingerprint(request, origin)
        seen = self._seen(request.process_action_id) if trigger is None else None
        if seen is not None:
            seen_print, seen_response = seen
            if seen_print == fingerprint:
                return seen_response
            clash = PAStatus.fail(
                PAErrorCode.CLASH, f"ProcessActionID {request.process_action_id} was used for another request"
            )
            return self._finish(request, origin, trigger, clash, None, depth, remember=False)
        status = self._admit(request, origin)
        if status is None and request.if_event is not None and trigger is None:
            return self._defer(request, origin, fingerprint, depth)
        ctx = None
        if status is None:
            ctx = ActionContext(self.world, request, self.world.rules.in_force(request.time_ms), origin)
            status = self._decide(ctx)
        return self._finish(request, origin, trigger, status, ctx, depth, fingerprint=fingerprint)

    def _seen(self, process_action_id: str) -> tuple[str, ProcessActionResponse] | None:
        """The fingerprint and answer of an earlier decision under this ProcessActionID: from the
        recent ones in memory, else (not while replaying, which rebuilds them) from Activity Data."""
        found = self.world.seen.get(process_action_id)
        if found is not None or self._replaying:
            return found
        record = self.activity.first_decision(process_action_id)
        if record is None:
            return None
        try:
            earlier = request_from_json(record.request)
        except InvalidInput:
            return None  # a malformed request was refused; this one is decided on its own
        return _fingerprint(earlier, record.origin), response_from_json(record.response)

    def _performed(self, process_action_id: str) -> bool:
        """Whether ``process_action_id`` was performed: among the recent ones in memory, else in
        Activity Data (``ActivityLog.performed``), so an If Event on an old one still fires."""
        return process_action_id in self.world.performed or self.activity.performed(process_action_id)

    def _admit(self, request: ProcessActionRequest, origin: str | None) -> PAStatus | None:
        """Steps 3 and 4: ids, Profile, handler and Capabilities."""
        world = self.world
        if origin is None:
            if not world.is_local(request.source_id) or request.source_id not in world.processes:
                return PAStatus.fail(
                    PAErrorCode.INC_ID, f"{request.source_id} is not a Process of {world.m_instance_id}"
                )
            if not world.is_local(request.destination_id):
                return PAStatus.fail(
                    PAErrorCode.INC_ID,
                    f"{request.destination_id} is not a Process of {world.m_instance_id}; ask it through Resolution",
                )
        elif _instance(request.source_id) != origin:
            return PAStatus.fail(
                PAErrorCode.INC_ID, f"{request.source_id} is not a Process of {origin}, where the request came from"
            )
        destination = world.processes.get(request.destination_id)
        if destination is None or not world.is_local(request.destination_id):
            return PAStatus.fail(PAErrorCode.INC_ID, f"no Process {request.destination_id} in {world.m_instance_id}")
        action = request.action
        if action not in world.profile.actions:
            return PAStatus.fail(
                PAErrorCode.FAULTY_REQ,
                f"{action.value} is not in the {world.profile.value} Profile of {world.m_instance_id}",
            )
        if action not in self._handlers:
            return PAStatus.fail(PAErrorCode.FAULTY_REQ, f"{world.m_instance_id} does not perform {action.value}")
        if action not in destination.capabilities:
            return PAStatus.fail(
                PAErrorCode.FAULTY_REQ, f"{action.value} is not a Capability of {request.destination_id}"
            )
        for doc in request.items:
            item_type = doc.get("ItemType") if isinstance(doc, Mapping) else None
            if isinstance(item_type, str) and not world.profile.supports_item_type(item_type):
                return PAStatus.fail(
                    PAErrorCode.FAULTY_REQ,
                    f"{item_type} Items are not in the {world.profile.value} Profile of {world.m_instance_id}",
                )
        return None

    def _decide(self, ctx: ActionContext) -> PAStatus:
        """Steps 5 to 7."""
        request = ctx.request
        if ctx.origin is not None and request.action not in ctx.rules.foreign_actions:
            return ctx.break_rule(
                "ForeignProcessActions",
                PAErrorCode.INS_RIGHTS,
                f"Rules version {ctx.rules.version_id} do not let Processes of other M-Instances "
                f"ask for {request.action.value}",
            )
        holder = authority(request)
        for target in rights_targets(request):
            if not ctx.holds(holder, request.action, target):
                on = target or '(anything: a "*" Right)'
                return PAStatus.fail(
                    PAErrorCode.INS_RIGHTS, f"{holder} holds no May Right to {request.action.value} {on}"
                )
        status = self._handlers[request.action](ctx)
        if status is None:
            price = price_of(ctx)
            if price is not None:
                status = payment_status(ctx, price)
        return status or PAStatus.ack()

    def _defer(
        self, request: ProcessActionRequest, origin: str | None, fingerprint: str, depth: int
    ) -> ProcessActionResponse:
        event = request.if_event
        assert event is not None
        self.world.pending[request.process_action_id] = (request, origin)
        if event.process_action_id is not None:
            when = f"Process Action {event.process_action_id} is performed"
        elif event.at_time_ms is not None:
            when = f"{iso(event.at_time_ms)}"
        else:
            when = f"a Process performs {event.action.value if event.action else '?'}" + (
                f" on {event.item_id}" if event.item_id else ""
            )
        status = PAStatus.ack(f"deferred until {when}")
        response = self._finish(request, origin, None, status, None, depth, fingerprint=fingerprint)
        if not self._replaying:
            if event.process_action_id is not None and self._performed(event.process_action_id):
                self._fire(
                    request.process_action_id, trigger=event.process_action_id, at_ms=request.time_ms, depth=depth + 1
                )
            elif event.at_time_ms is not None and event.at_time_ms <= request.time_ms:
                self._fire(request.process_action_id, trigger="time", at_ms=request.time_ms, depth=depth + 1)
        return response

    def _fire(self, pa_id: str, *, trigger: str | None, at_ms: int, depth: int) -> ProcessActionResponse:
        request, origin = self.world.pending.pop(pa_id)
        fired = replace(request, if_event=None, time_ms=max(at_ms, request.time_ms))
        return self._run(fired, origin=origin, trigger=trigger or "time", depth=depth)

    def _finish(
        self,
        request: ProcessActionRequest,
        origin: str | None,
        trigger: str | None,
        status: PAStatus,
        ctx: ActionContext | None,
        depth: int,
        *,
        fingerprint: str | None = None,
        remember: bool = True,
    ) -> ProcessActionResponse:
        """Apply (if Ack), report (if a Rule or an obligation was broken), record, answer, trigger.

        The effects on the durable stores and the Activity Data record are one transaction of the
        M-Instance's database (crash points ``<ctx.durable_point>.before/.after``)."""
        point = ctx.durable_point if ctx is not None and status.is_ack else None
        with nullcontext() if self._replaying else self.activity.decision(point):
            response = self._decided(request, origin, trigger, status, ctx, fingerprint=fingerprint, remember=remember)
        if not self._replaying and status.is_ack and ctx is not None and depth < MAX_TRIGGER_DEPTH:
            self._trigger(request, depth)
        return response

    def _decided(
        self,
        request: ProcessActionRequest,
        origin: str | None,
        trigger: str | None,
        status: PAStatus,
        ctx: ActionContext | None,
        *,
        fingerprint: str | None,
        remember: bool,
    ) -> ProcessActionResponse:
        complements: list[Complement] = []
        items: list[dict[str, Any]] = []
        if ctx is not None and status.is_ack:
            for effect in ctx.effects:
                effect()
            self.world.performed.add(request.process_action_id)
            complements, items = list(ctx.rs), [dict(i) for i in ctx.out_items]
        broken = ctx.broken if ctx is not None and not status.is_ack else None
        if broken is None and not status.is_ack and request.verb is DeonticVerb.MUST and status.error is not None:
            broken = BrokenRule("Obligation", f"{request.source_id} Must {request.action.value} but: {status.reason}")
        if broken is not None:
            report = self._report(request, origin, broken, status)
            complements.append(Complement(ComplementKind.WITH, report["ItemID"]))
            items.append(report)
        time_ms = request.time_ms if _valid_time(request.time_ms) else 0  # a malformed request's time is not echoed
        response = ProcessActionResponse(request.process_action_id, status, tuple(complements), tuple(items), time_ms)
        if remember and fingerprint is not None and trigger is None:
            self.world.seen[request.process_action_id] = (fingerprint, response)
        if not self._replaying:
            rules = self.world.rules.in_force(time_ms)
            refs = [c.ref_id for c in (*_complements(request), *complements)]
            self.activity.append(
                describe(request),
                request,
                response,
                trigger=trigger,
                origin=origin,
                rules_version=rules.version_id,
                refs=[request.source_id, request.destination_id, *refs],
            )
        return response

    def _trigger(self, done: ProcessActionRequest, depth: int) -> None:
        touched = {done.complement(ComplementKind.NIL), done.complement(ComplementKind.AT)}
        for pa_id, (pending, _) in list(self.world.pending.items()):
            event = pending.if_event
            if event is None or pa_id not in self.world.pending:
                continue
            if event.process_action_id == done.process_action_id or (
                event.action is done.action and (event.item_id is None or event.item_id in touched)
            ):
                self._fire(pa_id, trigger=done.process_action_id, at_ms=done.time_ms, depth=depth + 1)

    def _report(
        self, request: ProcessActionRequest, origin: str | None, broken: BrokenRule, status: PAStatus
    ) -> dict[str, Any]:
        """A Fault Behaviour Report (a Process of this M-Instance) or a Fault Detection Report (of
        another), kept as an Item of this M-Instance."""
        world = self.world
        foreign = origin is not None or not world.is_local(request.source_id)
        report_id = world.id("reports", f"{local_part(request.process_action_id)}-{len(world.reports) + 1}")
        fields: dict[str, Any] = {
            "ReportID": report_id,
            "FaultyProcessID": request.source_id,
            "ProcessActionID": request.process_action_id,
            "RulesVersionID": world.rules.in_force(request.time_ms).version_id,
            "Rule": broken.rule,
            "Description": broken.description[:1024] or status.reason[:1024] or broken.rule,
            "Time": iso(request.time_ms),
        }
        if foreign:
            fields["ReportedMInstanceID"] = _instance(request.source_id) or origin
            fields["ReportingMInstanceID"] = world.m_instance_id
        doc = item_doc(
            m_instance_id=world.m_instance_id,
            item_id=report_id,
            item_type="FDR" if foreign else "FBR",
            sub_type="FaultDetectionReport" if foreign else "FaultBehaviourReport",
            producer_id=world.id("processes", "manager"),
            time_ms=request.time_ms,
            fields=fields,
        )
        world.items[report_id] = doc
        world.reports.append(report_id)
        return doc


def _complements(request: ProcessActionRequest) -> tuple[Complement, ...]:
    raw = request.complements if isinstance(request.complements, tuple) else ()
    return tuple(c for c in raw if isinstance(c, Complement) and isinstance(c.ref_id, str))


def _fingerprint(request: ProcessActionRequest, origin: str | None) -> str:
    body = json.dumps([origin, request_to_json(request)], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def describe(request: ProcessActionRequest) -> dict[str, Any]:
    """The request's JSON form, or a best-effort description of a malformed one."""
    try:
        return request_to_json(request)
    except (AttributeError, TypeError, ValueError):
        return {"Malformed": repr(request)[:2000]}


def _valid_time(value: object) -> bool:
    """A time in Unix milliseconds: a non-negative int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def malformed(request: object) -> str | None:
    """Why ``request`` is malformed, or None."""
    if not isinstance(request, ProcessActionRequest):
        return "not a Process Action Request"
    if not isinstance(request.verb, DeonticVerb):
        return "unknown deontic verb"
    if request.verb is DeonticVerb.MAY_NOT:
        return "a May Not request asks for nothing; a prohibition is a Right, given with Rights Manage"
    if not isinstance(request.action, Action):
        return "unknown Action"
    if not (_nonempty_str(request.source_id) and _nonempty_str(request.destination_id)):
        return "source and destination ProcessIDs must be non-empty strings"
    if _instance(request.source_id) is None or _instance(request.destination_id) is None:
        return "source and destination ProcessIDs must be mmm:// ids"
    if not _nonempty_str(request.process_action_id) or _instance(request.process_action_id) is None:
        return "the ProcessActionID must be an mmm:// id"
    if _instance(request.process_action_id) != _instance(request.source_id):
        return "the ProcessActionID must be an id of the requesting Process's M-Instance"
    if not _valid_time(request.time_ms):
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
    event = request.if_event
    if event is not None:
        given = [x for x in (event.process_action_id, event.at_time_ms, event.action) if x is not None]
        if len(given) != 1 or (
            event.at_time_ms is not None
            and (isinstance(event.at_time_ms, bool) or not isinstance(event.at_time_ms, int))
        ):
            return "an If Event is exactly one of a ProcessActionID, a Time or an Action"
    if not isinstance(request.items, tuple) or len(request.items) > 32:
        return "a request carries at most 32 Items"
    return None
