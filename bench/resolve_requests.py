"""The Process Action requests of bench/resolve.py: a Resolve carrying one Message Item of
a.example, and the Register that makes b.example's bench User.

Each builder returns a ``process_action_pb2.ProcessActionRequest`` (the wire form, through
``instance.world.wire.request_to_proto``), timestamped now in ms, with a fresh ProcessActionID.
"""

from __future__ import annotations

import time
import uuid

from instance.world.itemdocs import item_doc
from instance.world.model import Action, Complement, ComplementKind, DeonticVerb, ProcessActionRequest
from instance.world.wire import request_to_proto
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.loopback import A, B, samples_dir
from mmmfed.cli.phase0 import registration_items

LOCAL_USER = f"mmm://{B}/processes/bench-user"
"""The source of the local paths: a User of b.example (Users hold Resolve by their Account type)."""
VISITOR = f"mmm://{A}/processes/app"
"""The source of the gateway path: a Process of a.example (b's Rules let visitors Resolve)."""


def _message(n: int) -> dict[str, object]:
    """A small Message Item of a.example (~600 bytes of JSON), as a Process would carry it."""
    return item_doc(
        m_instance_id=A,
        item_id=f"mmm://{A}/messages/bench-{n}",
        item_type="ITM",
        sub_type="Message",
        producer_id=f"mmm://{A}/processes/app",
        time_ms=int(time.time() * 1000),
        fields={"Content": {"Text": "Is mmm://b.example/processes/registration where it says it is?"}},
        descr={"Name": f"bench message {n}"},
    )


def resolve_request(source: str, n: int) -> papb.ProcessActionRequest:
    """Resolve b.example's Registration Service, asked of b.example's Resolution Service by
    ``source`` (a ProcessID), carrying one Message Item."""
    source_instance = source.removeprefix("mmm://").split("/", 1)[0]
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.RESOLVE,
        source,
        f"mmm://{B}/processes/resolution",
        (Complement(ComplementKind.NIL, f"mmm://{B}/processes/registration", is_process=True),),
        int(time.time() * 1000),
        process_action_id=f"mmm://{source_instance}/pa/bench-{uuid.uuid4().hex}",
        items=(_message(n),),
    )
    return request_to_proto(request, m_instance_id=source_instance)


def registration_request() -> papb.ProcessActionRequest:
    """The App of b.example asks its Registration Service to Register bench-user (with the
    BoxTextured sample as Persona)."""
    avatar = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.REGISTER,
        f"mmm://{B}/processes/app",
        f"mmm://{B}/processes/registration",
        (),
        int(time.time() * 1000),
        process_action_id=f"mmm://{B}/pa/bench-register",
        items=tuple(registration_items(B, "bench-user", avatar, time_ms=int(time.time() * 1000))),
    )
    return request_to_proto(request, m_instance_id=B)
