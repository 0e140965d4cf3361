"""The Process Action engine, watched, for the Rights property test (test_rights_property.py): a
subclass of ProcessActionEngine that checks each decision it makes (sent, retried or triggered by an
If Event) against the World as it was just before: a performed request was allowed by the Rights
held (and a Rights Manage took effect as asked), one not performed changed nothing. And a fresh
engine over a copy of the seeded World (three registered Users with a note each, one priced
Service)."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rights_population import (
    PARCELS,
    PRICE,
    REGISTERED,
    START_MS,
    M,
    held,
    needed_holder,
    note_id,
    pid,
    show,
    state,
    touched,
)
from rights_requests import draft, register_request, request

from instance.world.actions.authority import authority, rights_targets
from instance.world.activity import ActivityLog
from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    ComplementKind,
    DeonticVerb,
    ProcessActionRequest,
    ProcessActionResponse,
    Right,
    RightLevel,
)
from instance.world.seed import new_world
from instance.world.world import World

# The engine, watched


@dataclass(frozen=True)
class Decision:
    request: ProcessActionRequest
    trigger: str | None
    response: ProcessActionResponse
    performed: bool


class WatchedEngine(ProcessActionEngine):
    """The engine, checking every decision it makes (sent, retried or triggered) against the World
    as it was just before that decision."""

    def __init__(self, world: World, activity: ActivityLog) -> None:
        super().__init__(world, activity)
        self.decisions: list[Decision] = []
        self.history: list[str] = []

    def story(self) -> str:
        """Every decision so far, one line each (for a failure's message)."""
        return "\n".join(self.history)

    def _run(self, request: ProcessActionRequest, *args: Any, **kwargs: Any) -> ProcessActionResponse:
        rights, before = dict(self.world.rights), state(self.world)
        seen = request.process_action_id in self.world.seen
        trigger, start = kwargs.get("trigger"), len(self.decisions)
        response = super()._run(request, *args, **kwargs)
        retry = trigger is None and seen
        deferred = trigger is None and request.if_event is not None
        performed = response.status.is_ack and not retry and not deferred
        label = "id seen before" if retry else f"{response.status.kind.value} {response.status.error or ''}".strip()
        self.history.append(f"{show(request)} [{trigger or 'sent'}] -> {label} {response.status.reason[:90]}")
        if performed:
            self._check_rights(request, rights)
            if request.action is Action.RIGHTS_MANAGE and len(self.decisions) == start:  # nothing it triggered ran
                self._check_rights_managed(request)
        elif not (deferred and response.status.is_ack):
            assert state(self.world) == before, f"a request not performed changed the World\n{self.story()}"
        self.decisions.append(Decision(request, trigger, response, performed))
        return response

    def _check_rights(self, request: ProcessActionRequest, rights: Mapping[str, Right]) -> None:
        """``request`` was performed: the Rights held before it allowed it."""
        assert authority(request) == needed_holder(request), self.story()
        assert rights_targets(request) == touched(request), self.story()
        holder, at_ms = needed_holder(request), request.time_ms
        for target in touched(request):
            assert held(rights, holder, request.action, target, at_ms), (
                f"{holder} performed {request.action.value} on {target} without a May Right for it\n{self.story()}"
            )
        if request.action is Action.RIGHTS_MANAGE and request.complement(ComplementKind.TO) is not None:
            grantor, target = request.destination_id, request.complement(ComplementKind.NIL)
            for spec in request.rights:
                if spec.verb is DeonticVerb.MAY:
                    assert held(rights, grantor, spec.action, target, at_ms), (
                        f"{grantor} gave May {spec.action.value} on {target} without holding it\n{self.story()}"
                    )

    def _check_rights_managed(self, request: ProcessActionRequest) -> None:
        """A performed Rights Manage took effect: a grant's Rights are held as asked, and after a
        withdrawal the From Process holds none of the withdrawn Granted Rights the grantor gave it
        (an Acquired one is a final transfer: ``actions/rights.py``)."""
        grantor, target = request.destination_id, request.complement(ComplementKind.NIL)
        holder = request.complement(ComplementKind.TO)
        if holder is not None:
            for spec in request.rights:
                window = (max(spec.valid_from_ms, 0), spec.valid_until_ms)
                assert any(
                    (r.holder_id, r.verb, r.action, r.target_id, r.granted_by)
                    == (holder, spec.verb, spec.action, target, grantor)
                    and (r.valid_from_ms, r.valid_until_ms) == window
                    for r in self.world.rights.values()
                ), f"{grantor} gave {holder} {spec} on {target}, but it does not hold it\n{self.story()}"
            return
        holder = request.complement(ComplementKind.FROM)
        actions = {spec.action for spec in request.rights}
        left = [
            r
            for r in self.world.rights.values()
            if (r.holder_id, r.target_id, r.granted_by, r.level) == (holder, target, grantor, RightLevel.GRANTED)
            and (not actions or r.action in actions)
        ]
        assert not left, (
            f"{grantor} withdrew Rights on {target} from {holder}, but it still holds {left}\n{self.story()}"
        )


def seeded_engine() -> WatchedEngine:
    """A fresh engine over a copy of the seeded World (built once)."""
    return WatchedEngine(pickle.loads(_seeded_world()), ActivityLog(":memory:"))


@functools.cache
def _seeded_world() -> bytes:
    """The seeded World of ``a.example``, the Parcel Service charging ``PRICE`` for Rights Manage,
    and the registered Users, each with a note it Authored."""
    world = new_world(M)
    world.prices[(PARCELS, Action.RIGHTS_MANAGE)] = PRICE
    engine = ProcessActionEngine(world, ActivityLog(":memory:"))
    for index, human in enumerate(REGISTERED):
        response = engine.handle(register_request(human, START_MS, f"mmm://{M}/pa/setup-{index}"))
        assert response.status.is_ack, response.status
        note = draft(note_id(human), pid(human), sub_type="Message", content={"Text": f"hello from {human}"})
        authored = request(
            Action.AUTHOR,
            pid(human),
            pid(human),
            nil=note_id(human),
            items=(note,),
            time_ms=START_MS,
            pa_id=f"mmm://{M}/pa/note-{index}",
        )
        assert engine.handle(authored).status.is_ack
    engine.activity.close()
    return pickle.dumps(world)
