"""The M-Instance's Rules: versions with a Version ID and an Effective Time, and their change
procedure (MMM-TEC: "The carriage of Version ID and Effective Time condition. The procedure
whereby the Rules may be changed and a new Version is made effective.").

Each version is an RUL Item (``mmmfed/schemas/RUL.json``). The version in force at a time is the
latest whose EffectiveTime is not after it, so a change takes effect at its Effective Time, not
before, and never retroactively. A change is a Modify of the Rules Item by the Process its
ChangeProcedure names, announced at least ``MinNoticeMs`` ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from instance.world.itemdocs import millis, schema_problem
from instance.world.model import Action, Value
from mmmfed.rules import in_force


@dataclass(frozen=True, slots=True)
class AccountType:
    """What a human Registering with this Account type gets: Internal Rights and a Wallet."""

    internal_rights: frozenset[Action]
    opening: Value | None


@dataclass(frozen=True, slots=True)
class RulesVersion:
    """One version of the Rules, read from its RUL Item (``doc``)."""

    version_id: str
    effective_ms: int
    changed_by: str
    min_notice_ms: int
    max_message_chars: int
    account_types: Mapping[str, AccountType]
    foreign_actions: frozenset[Action]
    max_placements: int
    doc: Mapping[str, Any]

    @classmethod
    def from_item(cls, doc: Mapping[str, Any]) -> RulesVersion:
        """Read an RUL Item. Raises ValueError with a reason if it is not a valid one."""
        problem = schema_problem(doc)
        if problem is not None:
            raise ValueError(problem)
        if doc.get("ItemType") != "RUL":
            raise ValueError(f"a Rules version is an RUL Item, not {doc.get('ItemType')}")
        rules = doc["Rules"]
        accounts = {}
        for name, spec in rules["AccountTypes"].items():
            wallet = spec.get("Wallet")
            opening = Value(wallet["OpeningAmount"], wallet["CurrencyID"]) if wallet else None
            accounts[name] = AccountType(frozenset(Action(a) for a in spec["InternalRights"] if a in _ACTIONS), opening)
        return cls(
            version_id=doc["RulesVersionID"],
            effective_ms=millis(doc["EffectiveTime"]),
            changed_by=doc["ChangeProcedure"]["ChangedBy"],
            min_notice_ms=doc["ChangeProcedure"]["MinNoticeMs"],
            max_message_chars=rules["MaxMessageChars"],
            account_types=accounts,
            foreign_actions=frozenset(Action(a) for a in rules["ForeignProcessActions"] if a in _ACTIONS),
            max_placements=rules["MaxPlacementsPerProcess"],
            doc=doc,
        )


_ACTIONS = frozenset(a.value for a in Action)


class RuleBook:
    """The Rules versions of one M-Instance, the first effective from the start."""

    def __init__(self, first: RulesVersion) -> None:
        self._versions: list[RulesVersion] = [first]

    def in_force(self, at_ms: int) -> RulesVersion:
        """The version in force at ``at_ms`` (the first one before its own Effective Time too)."""
        return in_force(self._versions, at_ms, effective_ms=lambda v: v.effective_ms) or self._versions[0]

    @property
    def versions(self) -> tuple[RulesVersion, ...]:
        return tuple(self._versions)

    def change_refusal(self, new: RulesVersion, *, by: str, at_ms: int) -> str | None:
        """Why ``by`` may not make ``new`` effective by a request at ``at_ms``, or None."""
        procedure = self.in_force(at_ms)
        if by != procedure.changed_by:
            return f"the Rules change procedure lets only {procedure.changed_by} change the Rules"
        if any(v.version_id == new.version_id for v in self._versions):
            return f"Rules version {new.version_id} already exists"
        if new.effective_ms < at_ms + procedure.min_notice_ms:
            return (
                f"Rules version {new.version_id} would take effect at {new.effective_ms}, less than "
                f"{procedure.min_notice_ms} ms after the change at {at_ms}"
            )
        if new.effective_ms <= self._versions[-1].effective_ms:
            return f"Rules version {new.version_id} must take effect after the latest version"
        return None

    def add(self, new: RulesVersion) -> None:
        """Add a version accepted by :meth:`change_refusal`."""
        self._versions.append(new)
