"""Local Rules of an M-Instance, versioned (MMM-TEC Rules: a Version ID and an Effective Time).

A gateway checks every foreign Item against the Rules version in force at the Effective Time of
its receipt: the latest version whose ``effective_from_ms`` is not after that time. A Rule change
therefore takes effect at its Effective Time, not before, and never retroactively.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mmmfed.errors import PermissionDenied
from mmmfed.items import Item

V = TypeVar("V")


def in_force(versions: Sequence[V], at_ms: int, *, effective_ms: Callable[[V], int]) -> V | None:
    """The Rules version in force at the Effective Time ``at_ms`` (Unix ms): the latest of
    ``versions`` (sorted by ``effective_ms``) whose Effective Time is not after ``at_ms``; None
    before the first. The one Rules-in-force function of the project (MMM-TEC Rules: Version ID
    and Effective Time): the gateway's :class:`Rules` and the M-Instance's RuleBook both use it."""
    current = None
    for version in versions:
        if effective_ms(version) > at_ms:
            break
        current = version
    return current


class RuleSet(BaseModel):
    """One version of the Rules a gateway applies to foreign Items (empty lists: no limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version_id: str = Field(min_length=1, max_length=128)
    effective_from_ms: int = Field(ge=0)
    accept_item_types: list[str] = Field(default_factory=list)
    refuse_origins: list[str] = Field(default_factory=list)
    max_item_bytes: int = Field(default=0, ge=0)


class RuleViolation(PermissionDenied):
    """A foreign Item breaks the Rules in force (PERMISSION_DENIED, reason ``RULE_VIOLATION``;
    metadata ``rule_version``)."""

    reason = "RULE_VIOLATION"


class Rules:
    """The versions of a gateway's Rules (any order; sorted by Effective Time)."""

    def __init__(self, versions: Sequence[RuleSet]) -> None:
        self._versions = sorted(versions, key=lambda v: v.effective_from_ms)

    def in_force(self, at_ms: int) -> RuleSet | None:
        """The version in force at ``at_ms`` (Unix ms), or None before the first one."""
        return in_force(self._versions, at_ms, effective_ms=lambda v: v.effective_from_ms)

    def check(self, item: Item, *, origin: str, at_ms: int) -> str | None:
        """Raise RuleViolation if ``item`` from ``origin`` breaks the version in force at
        ``at_ms``; return that version's id (None if no version is in force yet)."""
        rules = self.in_force(at_ms)
        if rules is None:
            return None

        def violation(message: str) -> RuleViolation:
            return RuleViolation(
                f"{message} (Rules version {rules.version_id})", metadata={"rule_version": rules.version_id}
            )

        item_type = str(item.doc.get("ItemType", ""))
        if rules.accept_item_types and item_type not in rules.accept_item_types:
            raise violation(f"{item_type or 'untyped'} Items are not accepted")
        if origin in rules.refuse_origins:
            raise violation(f"Items from {origin} are not accepted")
        data = item.data
        if rules.max_item_bytes and data is not None and data.size > rules.max_item_bytes:
            raise violation(f"Item data of {data.size} bytes exceeds {rules.max_item_bytes}")
        return rules.version_id
