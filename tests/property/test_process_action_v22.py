"""Process Actions in their MMM-TEC V2.2 form (issue 15 item 3, ``mmmfed/v22/process_action.py``).

Property: for every Action the reference M-Instance supports (the High Profile's, all of
MMM-TEC V2.2 AnyAction), a gRPC ``ProcessActionRequest`` -> V2.2 JSON -> ``ProcessActionRequest``
is the identity, and so is a ``ProcessActionResponse`` -> V2.2 JSON -> ``ProcessActionResponse``;
and each V2.2 form validates against MPAI's schemas (corrected as in docs/mpai-v22-faults.md): a
request against ``MMM4_V22_AnyProcessAction`` (its inner Action against ``MMM4_V22_ProcessAction``),
a response against ``MMM4_V22_ProcessAction``, and the ``mmmfed:ActionPA`` of either against the
Action's ``MMM4_V22_<Action>PA``. The JSON goes through its text too (``json.dumps``/``loads``), as
a file or a reply would. A second test prints, for each Action, which schemas its forms used.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from instance.world.model import Action, Profile
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.items import DataBinding, build_item
from mmmfed.schemas import mpai
from mmmfed.v22 import encode
from mmmfed.v22.action_pa import ACTION_PA_KEY, pa_schema
from mmmfed.v22.process_action import (
    MAX_TIME_MS,
    REQUEST_SCHEMA,
    RESPONSE_SCHEMA,
    request_from_v22,
    request_to_v22,
    response_from_v22,
    response_to_v22,
)

ACTIONS = sorted(a.value for a in Profile.HIGH.actions)
A = "a.example"
_KINDS = [papb.COMPLEMENT_KIND_NIL, papb.COMPLEMENT_KIND_AT, papb.COMPLEMENT_KIND_FROM]
_KINDS += [papb.COMPLEMENT_KIND_TO, papb.COMPLEMENT_KIND_WITH, papb.COMPLEMENT_KIND_OF]
_VERBS = [papb.DEONTIC_VERB_MAY, papb.DEONTIC_VERB_MAY_NOT, papb.DEONTIC_VERB_MUST]
_ERRORS = [v for k, v in papb.PAErrorCode.items() if k != "PA_ERROR_CODE_UNSPECIFIED"]
TIMES = st.integers(min_value=0, max_value=MAX_TIME_MS)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(max_size=24)
IDS = st.one_of(
    st.sampled_from([f"mmm://{A}/processes/u1", f"mmm://{A}/personae/u1", f"mmm://{A}/locations/mm-square"]),
    st.text(min_size=1, max_size=24),
)


def _items() -> list[bytes]:
    """A few Items in their V2.2 form, as compact JSON (the wire's ``items_json``)."""
    persona = build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": "glTF/2.0-binary", "Attributes": {"Triangles": "12"}},
        data=DataBinding(4696, "ab" * 32, "model/gltf-binary"),
        producer_process_id=f"mmm://{A}/processes/u1",
        capabilities=[{"ProcessID": f"mmm://{A}/processes/u1", "Rights": ["MM-Add", "MM-Move"]}],
        descr={"Name": "u1's avatar"},
    )
    note = build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Message"},
        producer_process_id=f"mmm://{A}/processes/u1",
        descr={},
    )
    return [json.dumps(encode(i.doc), ensure_ascii=False, separators=(",", ":")).encode() for i in (persona, note)]


ITEMS = _items()


@st.composite
def complements(draw: st.DrawFn) -> papb.Complement:
    kind, ref = draw(st.sampled_from(_KINDS)), draw(IDS)
    if draw(st.booleans()):
        return papb.Complement(kind=kind, process_id=ref)
    return papb.Complement(kind=kind, item_id=ref)


@st.composite
def values(draw: st.DrawFn) -> papb.Value:
    return papb.Value(amount_minor=draw(INT64), currency_id=draw(st.sampled_from(["EUR", "ACU", "BCU", "X-1"])))


@st.composite
def requests(draw: st.DrawFn, action: str | None = None) -> papb.ProcessActionRequest:
    msg = papb.ProcessActionRequest(
        header="MMM-PAC-V2.2",
        m_instance_id=draw(st.sampled_from([A, "b.example", ""])),
        process_action_id=draw(st.one_of(st.just(f"mmm://{A}/pa/1"), TEXT)),
        source_process_id=draw(IDS),
        destination_process_id=draw(IDS),
        deontic_verb=draw(st.sampled_from(_VERBS)),
        action=action or draw(st.sampled_from(ACTIONS)),
        rq_complements=draw(st.lists(complements(), max_size=6)),
        time_ms=draw(TIMES),
        items_json=draw(st.lists(st.sampled_from(ITEMS), max_size=3)),
    )
    event_kind = draw(st.sampled_from(["none", "pa", "time", "action"]))
    if event_kind == "pa":
        msg.if_event.process_action_id = draw(IDS)
    elif event_kind == "time":
        msg.if_event.at_time_ms = draw(INT64)
    elif event_kind == "action":
        msg.if_event.on_action.action = draw(st.sampled_from(ACTIONS))
        msg.if_event.on_action.item_id = draw(st.one_of(st.just(""), IDS))
    if draw(st.booleans()):
        msg.payment.CopyFrom(draw(values()))
    for _ in range(draw(st.integers(0, 3))):
        msg.rights.append(
            papb.RightSpec(
                deontic_verb=draw(st.sampled_from(_VERBS)),
                action=draw(st.sampled_from(ACTIONS)),
                level=draw(st.sampled_from(["", "Internal", "Acquired", "Granted"])),
                valid_from_ms=draw(INT64),
                valid_until_ms=draw(INT64),
            )
        )
    return msg


@st.composite
def responses(draw: st.DrawFn) -> papb.ProcessActionResponse:
    msg = papb.ProcessActionResponse(
        process_action_id=draw(TEXT),
        rs_complements=draw(st.lists(complements(), max_size=4)),
        time_ms=draw(TIMES),
        items_json=draw(st.lists(st.sampled_from(ITEMS), max_size=3)),
        m_instance_id=draw(st.sampled_from([A, "b.example"])),
    )
    status = draw(st.sampled_from(["ack", "request", "error"]))
    if status == "ack":
        msg.pa_status.ack = True
    elif status == "request":
        msg.pa_status.request.CopyFrom(draw(values()))
    else:
        msg.pa_status.error.CopyFrom(papb.PAError(code=draw(st.sampled_from(_ERRORS)), reason=draw(TEXT)))
    return msg


def _through_text(doc: dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc, ensure_ascii=False))


def request_schemas(msg: papb.ProcessActionRequest) -> list[str]:
    """Validate the request's V2.2 form; return the schemas used (each one checked)."""
    doc = request_to_v22(msg)
    inner = doc["ProcessAction"][0]["Request"]["Action"]
    used = [REQUEST_SCHEMA, RESPONSE_SCHEMA]
    assert mpai.errors(REQUEST_SCHEMA, doc) == [] and mpai.errors(RESPONSE_SCHEMA, inner) == []
    name = pa_schema(msg.action)
    assert (ACTION_PA_KEY in inner) == (name is not None)
    if name is not None:
        assert mpai.errors(name, inner[ACTION_PA_KEY]) == [], inner[ACTION_PA_KEY]
        used.append(name)
    return used


def response_schemas(msg: papb.ProcessActionResponse, action: str) -> list[str]:
    doc = response_to_v22(msg, action=action)
    assert mpai.errors(RESPONSE_SCHEMA, doc) == []
    name = pa_schema(action)
    if name is None:
        return [RESPONSE_SCHEMA]
    assert mpai.errors(name, doc[ACTION_PA_KEY]) == [], doc[ACTION_PA_KEY]
    return [RESPONSE_SCHEMA, name]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_issue_15_item_3_request_round_trips_through_its_v22_form(msg: papb.ProcessActionRequest) -> None:
    """gRPC request -> MMM4_V22_AnyProcessAction (JSON text) -> gRPC request is lossless, and the
    V2.2 form validates against AnyProcessAction, ProcessAction and the Action's *PA schema."""
    event(" + ".join(request_schemas(msg)))
    back = request_from_v22(_through_text(request_to_v22(msg)))
    assert back == msg
    assert back.SerializeToString(deterministic=True) == msg.SerializeToString(deterministic=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(responses(), st.sampled_from(ACTIONS))
def test_issue_15_item_3_response_round_trips_through_its_v22_form(
    msg: papb.ProcessActionResponse, action: str
) -> None:
    """gRPC response -> MMM4_V22_ProcessAction (JSON text) -> gRPC response is lossless, with or
    without the request's Action, and the V2.2 form validates against ProcessAction and *PA."""
    event(" + ".join(response_schemas(msg, action)))
    assert response_from_v22(_through_text(response_to_v22(msg, action=action))) == msg
    assert response_from_v22(_through_text(response_to_v22(msg))) == msg


def test_every_action_of_the_instance_has_a_v22_form() -> None:
    """The property runs over every Action the instance supports: all of MMM-TEC V2.2 AnyAction."""
    any_action = {b["const"] for b in mpai.bundle()["$defs"]["MMM4_V22_AnyAction"]["oneOf"]}
    assert set(ACTIONS) == {a.value for a in Action} == any_action


@pytest.mark.parametrize("action", ACTIONS)
def test_issue_15_item_3_schemas_each_action_uses(action: str) -> None:
    """One request and one response of each Action: validated, round-tripped, schemas printed."""
    msg = _example_request(action)
    reply = papb.ProcessActionResponse(process_action_id=msg.process_action_id, time_ms=msg.time_ms, m_instance_id=A)
    reply.pa_status.error.CopyFrom(papb.PAError(code=papb.PA_ERROR_CODE_FAULTY_REQ, reason="no such Item"))
    used_rq, used_rs = request_schemas(msg), response_schemas(reply, action)
    assert request_from_v22(request_to_v22(msg)) == msg
    assert response_from_v22(response_to_v22(reply, action=action)) == reply
    print(f"{action}: request -> {' + '.join(used_rq)}; response -> {' + '.join(used_rs)}")
    assert (pa_schema(action) is None) == (action == "Inform")  # MPAI's document has no InformPA


def _example_request(action: str) -> papb.ProcessActionRequest:
    user = f"mmm://{A}/processes/u1"
    return papb.ProcessActionRequest(
        header="MMM-PAC-V2.2",
        m_instance_id=A,
        process_action_id=f"mmm://{A}/pa/{action.replace(' ', '-')}",
        source_process_id=user,
        destination_process_id=user,
        deontic_verb=papb.DEONTIC_VERB_MAY,
        action=action,
        rq_complements=[
            papb.Complement(kind=papb.COMPLEMENT_KIND_NIL, item_id=f"mmm://{A}/personae/u1"),
            papb.Complement(kind=papb.COMPLEMENT_KIND_OF, process_id=user),
        ],
        time_ms=1_764_054_000_000,
        items_json=ITEMS[:1],
    )
