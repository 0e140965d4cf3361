"""Property test of the reference M-Instance's Process Action engine (``instance/world/engine.py``): no
sequence of requests lets a Process perform an Action its Rights do not allow.

Hypothesis drives one seeded World (``a.example``: its Services and M-Locations, three registered
Users with a note each, one priced Service) with sequences of up to 40 steps of requests from a
small population of Processes and Items, at non-decreasing times, and checks after every decision
the engine makes (the requests it is sent and the deferred ones it runs when their If Event
happens, through a subclass that watches ``_run``):

* performed (Ack, not deferred, not a retry): in the World as it was just before, the Process whose
  authority the Action needs held a May Right covering the Action on each Item it touches at the
  request's time, and no May Not Right covering it; a Process that gave May Rights with Rights
  Manage itself held each of them on the target; and the Rights it gave are then held as asked, the
  Granted Rights it withdrew no longer held;
* not performed (Error, Request, a retry): the World is unchanged;
* money is conserved: the Wallets' total per Currency changes only by the opening balance of a
  Register, and no Wallet goes negative.

The Rights are read here from ``World.rights`` and the documented reading of whose authority an
Action needs (``instance/world/actions/authority.py``), not through the engine's own helpers. Local
Processes only: the exceptions ``ActionContext.holds`` makes for visitors of other M-Instances do
not arise. The test also asserts that a real share of the requests is performed (about a third)
and that each kind of Action is, so that it cannot pass by refusing everything.

The population and the test's own reading of the Rights are in rights_population.py, the watched
engine in rights_watched_engine.py, the requests and the strategies that draw them in
rights_requests.py and rights_strategies.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import ClassVar

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from rights_population import PREVIOUS_TX, START_MS, M, totals
from rights_strategies import STEPS, Step
from rights_watched_engine import seeded_engine

from instance.world.model import Action, ProcessActionRequest


def build(template: ProcessActionRequest, now: int, pa_id: str, previous: str | None) -> ProcessActionRequest:
    """The template sent under ``pa_id`` at ``now`` plus its own time: its Rights windows and If
    Event Time are relative to that; ``PREVIOUS_TX`` names the Transaction of the ``previous`` request."""
    now += template.time_ms
    tx = f"mmm://{M}/transactions/{(previous or '').rsplit('/', 1)[-1]}"
    complements = tuple(replace(c, ref_id=tx) if c.ref_id == PREVIOUS_TX else c for c in template.complements)
    rights = tuple(
        replace(
            s,
            valid_from_ms=now + s.valid_from_ms,
            valid_until_ms=None if s.valid_until_ms is None else now + s.valid_until_ms,
        )
        for s in template.rights
    )
    event = template.if_event
    if event is not None and event.at_time_ms is not None:
        event = replace(event, at_time_ms=now + event.at_time_ms)
    return replace(
        template, complements=complements, rights=rights, time_ms=now, process_action_id=pa_id, if_event=event
    )


class Requests(RuleBasedStateMachine):
    """Sequences of Steps on a fresh seeded World. The Rights and unchanged-World checks are made by
    :class:`WatchedEngine` at each decision; money is checked after each step."""

    stats: ClassVar[Counter[str]] = Counter()
    """What was decided, across examples (the test resets it)."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = seeded_engine()
        self.now = START_MS
        self.sent: list[ProcessActionRequest] = []

    @rule(step=STEPS)
    def take(self, step: Step) -> None:
        engine, world = self.engine, self.engine.world
        self.now += step.dt
        before_money, start = totals(world), len(engine.decisions)
        if step.kind == "tick":
            engine.tick(self.now)
        elif step.kind == "retry" and self.sent:
            engine.handle(self.sent[step.pick % len(self.sent)])
        elif step.kind == "clash" and self.sent and step.templates:
            reused = self.sent[step.pick % len(self.sent)].process_action_id
            clash = build(step.templates[-1], self.now, reused, None)
            self.now = clash.time_ms
            engine.handle(clash)
        else:
            previous = None
            for template in step.templates:
                built = build(template, self.now, f"mmm://{M}/pa/r{len(self.sent)}", previous)
                self.now = built.time_ms
                engine.handle(built)
                self.sent.append(built)
                previous = built.process_action_id
        decided = engine.decisions[start:]
        opening = world.rules.in_force(self.now).account_types["Basic"].opening
        assert opening is not None
        registered = sum(1 for d in decided if d.performed and d.request.action is Action.REGISTER)
        expected = before_money + Counter({opening.currency_id: opening.amount_minor * registered})
        assert +totals(world) == +expected, f"money not conserved: {before_money} -> {totals(world)}\n{engine.story()}"
        negative = [w for w, balances in world.wallets.items() if any(v < 0 for v in balances.values())]
        assert not negative, f"Wallets went negative: {negative}\n{engine.story()}"
        for decision in decided:
            outcome = "performed" if decision.performed else decision.response.status.kind.value
            self.stats["decisions"] += 1
            self.stats[outcome] += 1
            self.stats[f"{decision.request.action.value}: {outcome}"] += 1
            if decision.response.status.error is not None:
                self.stats[f"error {decision.response.status.error.value}"] += 1
            event(f"{decision.request.action.value}: {outcome}")

    def teardown(self) -> None:
        self.engine.activity.close()


def test_no_sequence_of_requests_performs_an_action_without_rights() -> None:
    """Every performed request was allowed by the Rights held just before it; refused ones change
    nothing; money is conserved; and a real share of the generated requests is performed."""
    stats = Requests.stats = Counter()
    run_state_machine_as_test(
        Requests,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            database=None,
            report_multiple_bugs=False,
            # No shrinking: shrinking a 40-step run takes longer than pytest's 300 s timeout. A failure's
            # message lists every decision of its run, one line each; add Phase.shrink to shrink locally.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    share = stats["performed"] / stats["decisions"]
    assert share >= 0.25, f"only {share:.0%} of {stats['decisions']} decisions performed: {stats.most_common()}"
    for action in (
        Action.MM_ADD,
        Action.MM_MOVE,
        Action.MM_ANIMATE,
        Action.MU_ACTUATE,
        Action.MODIFY,
        Action.HIDE,
        Action.POST,
        Action.MM_SEND,
        Action.RIGHTS_MANAGE,
        Action.TRANSACT,
        Action.AUTHOR,
        Action.DISCOVER,
        Action.REGISTER,
    ):
        assert stats[f"{action.value}: performed"] >= 10, f"{action.value} rarely performed: {stats.most_common()}"
    assert stats["error InsRights"] >= 300, f"too few requests refused for want of Rights: {stats.most_common()}"
