"""Versioned local Rules: a change takes effect at its Effective Time, not before."""

from __future__ import annotations

import pytest

from mmmfed.items import DataBinding, build_item
from mmmfed.rules import Rules, RuleSet, RuleViolation

ITEM = build_item(
    m_instance_id="a.example",
    item_type="ITM",
    qualifier={"SubType": "Persona"},
    data=DataBinding(5_000, "ab" * 32, "model/gltf-binary"),
    producer_process_id="mmm://a.example/p/x",
)
V1 = RuleSet(version_id="v1", effective_from_ms=1_000, accept_item_types=["ITM"])
V2 = RuleSet(version_id="v2", effective_from_ms=2_000, refuse_origins=["a.example"])
V3 = RuleSet(version_id="v3", effective_from_ms=3_000, max_item_bytes=4_000)


def test_the_version_in_force_is_the_latest_effective_one() -> None:
    """Versions apply from their Effective Time on, whatever order they are given in."""
    rules = Rules([V3, V1, V2])
    assert rules.in_force(999) is None
    assert [rules.in_force(t).version_id for t in (1_000, 1_999, 2_000, 5_000)] == ["v1", "v1", "v2", "v3"]


def test_a_rule_change_applies_at_its_effective_time_not_before() -> None:
    """An Item from a.example passes under v1 and is refused under v2 from its Effective Time."""
    rules = Rules([V1, V2])
    assert rules.check(ITEM, origin="a.example", at_ms=1_999) == "v1"
    with pytest.raises(RuleViolation) as err:
        rules.check(ITEM, origin="a.example", at_ms=2_000)
    assert err.value.reason == "RULE_VIOLATION" and err.value.metadata["rule_version"] == "v2"


@pytest.mark.parametrize(
    ("version", "origin", "message"),
    [
        (RuleSet(version_id="t", effective_from_ms=0, accept_item_types=["ASS"]), "a.example", "ITM Items"),
        (V3.model_copy(update={"effective_from_ms": 0}), "a.example", "5000 bytes exceeds 4000"),
    ],
)
def test_each_rule_names_what_it_refuses(version: RuleSet, origin: str, message: str) -> None:
    """Item type and size limits refuse with a message naming the limit and the version."""
    with pytest.raises(RuleViolation) as err:
        Rules([version]).check(ITEM, origin=origin, at_ms=1)
    assert message in err.value.message and version.version_id in err.value.message
