"""`mmmfed pa send` and `mmmfed activity show` against running M-Instances (issue "MMM-TEC core",
item 7): a request from a file or from flags, its PA Status as the exit code, bad input refused
before anything is sent. The file, the `--json` response and the Activity Data records carry the
Process Action in its MMM-TEC V2.2 form (issue 15 item 3: MMM4_V22_AnyProcessAction /
MMM4_V22_ProcessAction, mmmfed/v22/process_action.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cliproc import mmmfed_in_thread as mmmfed
from sample_assets import GODETTE, needs_samples

from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.inprocess import Federation
from mmmfed.cli.phase0 import registration_items
from mmmfed.schemas import mpai
from mmmfed.v22 import encode
from mmmfed.v22.parts import value_doc
from mmmfed.v22.process_action import request_to_v22

pytestmark = needs_samples
A = "a.example"
APP, REGISTRATION = f"mmm://{A}/processes/app", f"mmm://{A}/processes/registration"
USER = f"mmm://{A}/processes/cli-user"
PERSONA = f"mmm://{A}/personae/cli-user"
SQUARE, ROOM1 = f"mmm://{A}/locations/mm-square", f"mmm://{A}/locations/room-1"


def _registration_request() -> dict[str, Any]:
    """A Register request in its MMM-TEC V2.2 form (an MMM4_V22_AnyProcessAction), carrying the
    human's Personal Profile, Account and Persona drafts (Godette, a real VRM) as V2.2 Items."""
    now = int(time.time() * 1000)
    message = papb.ProcessActionRequest(
        header="MMM-PAC-V2.2",
        m_instance_id=A,
        process_action_id=f"mmm://{A}/pa/register-cli-user-{now}",
        source_process_id=APP,
        destination_process_id=REGISTRATION,
        deontic_verb=papb.DEONTIC_VERB_MAY,
        action="Register",
        time_ms=now,
        items_json=[json.dumps(encode(i)).encode() for i in registration_items(A, "cli-user", GODETTE, time_ms=now)],
    )
    request = request_to_v22(message)
    assert mpai.errors("MMM4_V22_AnyProcessAction", request) == []
    return request


def _registration_file(tmp_path: Path) -> Path:
    path = tmp_path / "register.json"
    path.write_text(json.dumps(_registration_request()))
    return path


def _operator(federation: Federation, tmp_path: Path) -> list[str]:
    """--config (instance a.example's, written to a file) and the operator's certificate and key."""
    config = tmp_path / "instance-a.json"
    config.write_text(federation.plan.instance_a.model_dump_json())
    tls = federation.plan.operator_tls
    return ["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)]


async def test_pa_send_from_a_file_and_from_flags_exits_with_the_pa_status(
    federation: Federation, tmp_path: Path
) -> None:
    """Register from a file (Ack, exit 0, the new User Process named in the response); MM-Add
    by flags at the MM-Square (Ack), again (Clash, exit 4), MM-Move to room-1 without a Right
    (InsRights, exit 4); `activity show` lists the User's three requests with their PA Status."""
    operator = _operator(federation, tmp_path)

    registered = await mmmfed("pa", "send", *operator, "--file", str(_registration_file(tmp_path)), "--json")
    assert registered.returncode == 0, registered.stderr
    answer = json.loads(registered.stdout)
    assert mpai.errors("MMM4_V22_ProcessAction", answer) == []
    assert mpai.errors("MMM4_V22_RegisterPA", answer["mmmfed:ActionPA"]) == []
    assert answer["PAStatus"] == [{"Ack": "Ack"}] and answer["MInstanceID"] == A
    assert {"NilProcess": USER} in answer["RS-Complements"]

    placing = ["--source", USER, "--destination", USER, "--action", "MM-Add", "--nil", PERSONA]
    placed = await mmmfed("pa", "send", *operator, *placing, "--at", SQUARE)
    assert placed.returncode == 0, placed.stderr
    assert "Ack" in placed.stdout and "decided by a.example" in placed.stdout

    again = await mmmfed("pa", "send", *operator, *placing, "--at", SQUARE, "--json")
    assert again.returncode == 4, again.stderr
    assert json.loads(again.stdout)["PAStatus"] == [{"Error": "Clash"}]  # already placed: MM-Move it

    entering = ["--source", USER, "--destination", USER, "--action", "MM-Move", "--nil", PERSONA, "--at", ROOM1]
    refused = await mmmfed("pa", "send", *operator, *entering, "--json")
    assert refused.returncode == 4, refused.stderr
    assert json.loads(refused.stdout)["PAStatus"] == [{"Error": "InsRights"}]

    shown = await mmmfed("activity", "show", *operator, "--process", USER, "--json")
    assert shown.returncode == 0, shown.stderr
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["Action"], r["PAStatus"]["Status"], r["PAStatus"].get("ErrorCode")) for r in records] == [
        ("MM-Add", "Ack", None),
        ("MM-Add", "Error", "Clash"),
        ("MM-Move", "Error", "InsRights"),
    ]
    for r in records:  # each record carries its Process Action in the V2.2 form
        assert mpai.errors("MMM4_V22_ProcessAction", r["ProcessAction"]) == []
        assert mpai.errors("MMM4_V22_ProcessAction", r["ProcessActionResponse"]) == []
    assert records[1]["ProcessActionResponse"]["PAStatus"] == [{"Error": "Clash"}]


async def test_pa_send_answers_request_with_exit_3_across_m_instances(federation: Federation, tmp_path: Path) -> None:
    """A Process of a.example asks b.example's Activity Service to Discover (MMM-TEC Resolution
    through both gateways): b charges visitors, so the answer is Request with its Value, exit 3."""
    assert federation.at_a is not None
    await federation.at_a.negotiate("b.example")
    operator = _operator(federation, tmp_path)
    registered = await mmmfed("pa", "send", *operator, "--file", str(_registration_file(tmp_path)))
    assert registered.returncode == 0, registered.stderr
    asked = await mmmfed(
        "pa",
        "send",
        *operator,
        "--source",
        USER,
        "--destination",
        "mmm://b.example/processes/activity",
        "--action",
        "Discover",
        "--of",
        "mmm://b.example/processes/manager",
        "--json",
    )
    assert asked.returncode == 3, asked.stderr
    answer = json.loads(asked.stdout)
    assert mpai.errors("MMM4_V22_ProcessAction", answer) == []
    assert answer["MInstanceID"] == "b.example"
    assert answer["PAStatus"] == [{"Request": value_doc(5, "EUR")}]


async def test_pa_send_refuses_bad_input_before_sending(federation: Federation, tmp_path: Path) -> None:
    """An unknown Action, a float payment, a file in the old (pre-V2.2) form or with a malformed
    V2.2 Complement, and an unreadable file are refused with exit 2 and one message naming the
    field (as JSON under --json); nothing reaches the M-Instance's Activity Data."""
    operator = _operator(federation, tmp_path)
    flags = ["--source", USER, "--destination", USER, "--nil", PERSONA]
    unknown = await mmmfed("pa", "send", *operator, *flags, "--action", "Fly")
    assert unknown.returncode == 2 and "PROCESS_ACTION_MALFORMED" in unknown.stderr, unknown.stderr
    assert "Action" in unknown.stderr

    floats = tmp_path / "float.json"
    request = _registration_request()
    fields = request["ProcessAction"][0]["Request"]["Action"]["mmmfed:Fields"]
    fields["Payment"] = {"Amount": 1.5, "Currency": {"Header": "MMM-CUO-V2.2", "CurrencyData": "EUR"}}
    floats.write_text(json.dumps(request))
    paid = await mmmfed("pa", "send", *operator, "--file", str(floats))
    assert paid.returncode == 2 and "PROCESS_ACTION_MALFORMED" in paid.stderr, paid.stderr
    assert "mmmfed:Fields/Payment" in paid.stderr

    # Issue 15 item 3: --file reads the V2.2 form only; the old domain form is refused, the field named.
    old_form = tmp_path / "old-form.json"
    old_form.write_text(json.dumps({"DeonticVerb": "May", "Action": "Register", "SourceProcessID": APP}))
    old = await mmmfed("pa", "send", *operator, "--file", str(old_form))
    assert old.returncode == 2 and "PROCESS_ACTION_MALFORMED" in old.stderr and "/Header" in old.stderr, old.stderr
    assert old.stderr.count("error") == 1, old.stderr  # one message
    as_json = await mmmfed("pa", "send", *operator, "--file", str(old_form), "--json")
    assert as_json.returncode == 2, as_json.stderr
    error = json.loads(as_json.stdout)
    assert "PROCESS_ACTION_MALFORMED" in json.dumps(error) and "/Header" in json.dumps(error), error
    complement = _registration_request()
    complement["ProcessAction"][0]["Request"]["RQ-Complements"] = [{"Kind": "Nil", "ItemID": PERSONA}]
    bad_complement = tmp_path / "complement.json"
    bad_complement.write_text(json.dumps(complement))
    wrong = await mmmfed("pa", "send", *operator, "--file", str(bad_complement))
    assert wrong.returncode == 2 and "/ProcessAction/0/Request/RQ-Complements/0" in wrong.stderr, wrong.stderr

    missing = await mmmfed("pa", "send", *operator, "--file", str(tmp_path / "nowhere.json"))
    assert missing.returncode == 2 and "FILE_UNREADABLE" in missing.stderr, missing.stderr

    shown = await mmmfed("activity", "show", *operator, "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == ""

    keyless = [*operator[: operator.index("--key") + 1], str(tmp_path / "no-such.key")]
    unreadable = await mmmfed("activity", "show", *keyless)
    assert unreadable.returncode == 2 and "FILE_UNREADABLE" in unreadable.stderr, unreadable.stderr
    assert "Traceback" not in unreadable.stderr
