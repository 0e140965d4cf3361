"""Items: identifiers (IDIR-101, -103, -105..107), parsing of exact bytes, data binding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmmfed.errors import InvalidInput
from mmmfed.items import MAX_TRACE, DataBinding, build_item, instance_of, new_id, parse_item
from mmmfed.schemas import validate_item


def test_identifiers_keep_their_instance() -> None:
    """An identifier made for an M-Instance names that instance (IDIR-101, IDIR-103)."""
    ident = new_id("a.example", "processes/user", "alice")
    assert ident == "mmm://a.example/processes/user/alice"
    assert instance_of(ident) == "a.example"


@pytest.mark.parametrize("bad", ["A.example", "localhost", "a..example", "-a.example", ""])
def test_instance_ids_must_be_fqdns(bad: str) -> None:
    """M-Instance ids are lower-case fully qualified domain names (IDIR-105..107)."""
    with pytest.raises(InvalidInput) as err:
        new_id(bad, "items")
    assert err.value.reason == "BAD_INSTANCE_ID"


@given(name=st.text(min_size=0, max_size=40), size=st.integers(min_value=0, max_value=2**40))
def test_build_then_parse_round_trips(name: str, size: int) -> None:
    """An Item parsed from the bytes it was built as gives the same document and binding."""
    item = build_item(
        m_instance_id="a.example",
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": "VRM/0.x"},
        data=DataBinding(size, "ab" * 32, "model/gltf-binary"),
        producer_process_id="mmm://a.example/p/x",
        descr={"Name": name},
    )
    parsed = parse_item(item.raw)
    assert parsed.doc == item.doc
    assert parsed.data == DataBinding(size, "ab" * 32, "model/gltf-binary")


def _claiming_another_instances_id() -> bytes:
    """A well-formed V2.2 Item of a.example whose ItemID is b.example's."""
    item = build_item(
        m_instance_id="a.example",
        item_type="ITM",
        qualifier={"SubType": "Note"},
        producer_process_id="mmm://a.example/p/x",
    )
    wire = dict(item.wire)
    wire["ItemID"] = "mmm://b.example/items/1"
    wire["DataXMData"] = {**wire["DataXMData"], "DataID": "mmm://b.example/items/1"}
    return json.dumps(wire).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "JSON_SYNTAX"),
        (b'{"Header":"MMM-ITM-V2.2","Header":"x"}', "JSON_DUPLICATE_KEY"),
        (
            b'{"Header":"MMM-ITM-V2.2","MInstanceID":"a.example","ItemID":"mmm://a.example/items/1","N":NaN}',
            "JSON_NON_FINITE",
        ),
        (_claiming_another_instances_id(), "BAD_IDENTIFIER"),
        (b'{"Header":"MMM-ITM-V2.2","MInstanceID":"a.example"}', "V22_SCHEMA_VIOLATION"),  # no ItemID
        (b"[]", "ITEM_MALFORMED"),
        (b"\xff\xfe", "JSON_NOT_UTF8"),
    ],
)
def test_malformed_items_are_refused(raw: bytes, reason: str) -> None:
    """Malformed Item bytes raise InvalidInput with a stable reason, never another exception."""
    with pytest.raises(InvalidInput) as err:
        parse_item(raw)
    assert err.value.reason == reason


def test_an_item_built_hop_after_hop_keeps_the_newest_trace_entries_and_stays_valid() -> None:
    """An Asset that moves between M-Instances again and again: each hop's Item is built from the
    last one's Trace plus its own entry; past MAX_TRACE (the schema's maxItems) the oldest entries
    go, the newest stay, and every hop's Item is still a valid Item (no SCHEMA_VIOLATION)."""
    trace: list[dict[str, str]] | None = None
    for hop in range(MAX_TRACE + 10):
        m = "a.example" if hop % 2 == 0 else "b.example"
        item = build_item(
            m_instance_id=m,
            item_type="ITM",
            qualifier={"SubType": "Model", "Format": "glTF/2.0"},
            producer_process_id=f"mmm://{m}/processes/owner-{hop}",
            trace=trace,
        )
        validate_item(item.doc)
        trace = item.doc["Trace"]
    assert trace is not None and len(trace) == MAX_TRACE
    assert [t["ProcessID"].rsplit("-", 1)[1] for t in trace] == [str(h) for h in range(10, MAX_TRACE + 10)]
