"""What an Action handler sees and returns: :class:`ActionContext`.

A handler is ``handle(ctx) -> PAStatus | None``. It checks everything first and returns an Error
PA Status (``ctx.refuse`` / ``ctx.break_rule``) or the Request PA Status of a payment, leaving the
World untouched; or it queues its changes with ``ctx.then`` and returns None, and the engine applies
them, in order, only if the request is performed. RS Complements and RS Items go in ``ctx.rs`` and
``ctx.out_items``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from instance.world.itemdocs import capabilities_of
from instance.world.model import (
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatus,
    ProcessActionRequest,
)
from instance.world.rulebook import RulesVersion
from instance.world.world import World


@dataclass(frozen=True, slots=True)
class BrokenRule:
    """A Rule a request broke: the engine raises a Fault Behaviour Report (a local Process) or a
    Fault Detection Report (a Process of another M-Instance) about it."""

    rule: str
    description: str


@dataclass(slots=True)
class ActionContext:
    """One request being decided against one World under the Rules version in force."""

    world: World
    request: ProcessActionRequest
    rules: RulesVersion
    origin: str | None
    """The M-Instance the request came from through Resolution (its gateway verified the carried
    Items); None for a request of a local Process."""
    effects: list[Callable[[], None]] = field(default_factory=list)
    rs: list[Complement] = field(default_factory=list)
    out_items: list[Mapping[str, Any]] = field(default_factory=list)
    broken: BrokenRule | None = None
    durable_point: str | None = None
    """The crash point name of the decision's one durable write when its effects write to the
    M-Instance's database (e.g. ``wallet.pay``; :mod:`mmmfed.crashpoints`)."""

    @property
    def now(self) -> int:
        return self.request.time_ms

    @property
    def source(self) -> str:
        return self.request.source_id

    @property
    def destination(self) -> str:
        return self.request.destination_id

    def target(self, kind: ComplementKind = ComplementKind.NIL) -> str | None:
        return self.request.complement(kind)

    def refuse(self, code: PAErrorCode, reason: str) -> PAStatus:
        return PAStatus.fail(code, reason)

    def break_rule(self, rule: str, code: PAErrorCode, reason: str) -> PAStatus:
        """Refuse because a Rule is broken; the engine reports it (FBR / FDR)."""
        self.broken = BrokenRule(rule, reason)
        return PAStatus.fail(code, reason)

    def then(self, effect: Callable[[], None]) -> None:
        self.effects.append(effect)

    def produce(
        self, kind: ComplementKind, ref_id: str, *, is_process: bool = False, item: Mapping[str, Any] | None = None
    ) -> None:
        """Name ``ref_id`` in the response, with the Item itself if given."""
        self.rs.append(Complement(kind, ref_id, is_process=is_process))
        if item is not None:
            self.out_items.append(item)  # copied by the engine once the effects are applied

    def foreign_item(self, item_id: str) -> Mapping[str, Any] | None:
        """A carried Item of the origin M-Instance (verified by this M-Instance's gateway), or None."""
        if self.origin is None:
            return None
        doc = self.request.carried(item_id)
        if doc is None or doc.get("MInstanceID") != self.origin:
            return None
        return doc

    def item(self, item_id: str | None) -> Mapping[str, Any] | None:
        """An Item held here, or else a verified carried Item of the origin M-Instance."""
        if item_id is None:
            return None
        return self.world.items.get(item_id) or self.foreign_item(item_id)

    def holds(self, holder_id: str, action: Action, target_id: str | None) -> bool:
        """Whether ``holder_id`` May perform ``action`` on ``target_id`` now: by a Right of this
        M-Instance, or, for an Item of the origin M-Instance, by that Item's signed ICapabilities
        (MMM-TEC Resolution: "the foreign Item being a signed assembly with Capabilities including
        Rights held by identified Processes"), or, for a Process of another M-Instance, MM-Add and
        MM-Move At a public M-Location (where every User of this one has an Internal Right) and the
        Actions without a target (Discover, Resolve...) that the Rules' ForeignProcessActions list
        (the Rules play the part of a ``"*"`` Right for visitors). A May Not Right here overrides
        all of them."""
        if self.world.may(holder_id, action, target_id, self.now):
            return True
        if any(r.verb is DeonticVerb.MAY_NOT for r in self.world.covering(holder_id, action, target_id, self.now)):
            return False
        visitor = self.origin is not None and not self.world.is_local(holder_id)
        if target_id is None or (action is Action.AUTHENTICATE and target_id == holder_id):
            return visitor and action in self.rules.foreign_actions  # a visitor may ask to be authenticated
        if action in (Action.MM_ADD, Action.MM_MOVE) and target_id in self.world.public_locations:
            return not self.world.is_local(holder_id)  # visitors walk where every User may
        doc = self.foreign_item(target_id)
        return doc is not None and action.value in capabilities_of(doc, holder_id)


Handler = Callable[[ActionContext], "PAStatus | None"]
