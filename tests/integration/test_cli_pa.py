"""`mmmfed pa send` and `mmmfed activity show` against running M-Instances (issue "MMM-TEC core",
item 7): a request from a file or from flags, its PA Status as the exit code, bad input refused
before anything is sent."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cliproc import mmmfed_in_thread as mmmfed
from sample_assets import GODETTE, needs_samples

from mmmfed.cli.inprocess import Federation
from mmmfed.cli.phase0 import registration_items

pytestmark = needs_samples
A = "a.example"
APP, REGISTRATION = f"mmm://{A}/processes/app", f"mmm://{A}/processes/registration"
USER = f"mmm://{A}/processes/cli-user"
PERSONA = f"mmm://{A}/personae/cli-user"
SQUARE, ROOM1 = f"mmm://{A}/locations/mm-square", f"mmm://{A}/locations/room-1"


def _registration_file(tmp_path: Path) -> Path:
    """A Register request in the JSON form of instance/world/codec.py, carrying the human's
    Personal Profile, Account and Persona drafts (Godette, a real VRM)."""
    items = registration_items(A, "cli-user", GODETTE, time_ms=int(time.time() * 1000))
    request = {
        "DeonticVerb": "May",
        "Action": "Register",
        "SourceProcessID": APP,
        "DestinationProcessID": REGISTRATION,
        "Items": items,
    }
    path = tmp_path / "register.json"
    path.write_text(json.dumps(request))
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
    assert answer["PAStatus"]["Status"] == "Ack" and answer["DecidedBy"] == A
    assert {"Kind": "Nil", "ProcessID": USER} in answer["RSComplements"]

    placing = ["--source", USER, "--destination", USER, "--action", "MM-Add", "--nil", PERSONA]
    placed = await mmmfed("pa", "send", *operator, *placing, "--at", SQUARE)
    assert placed.returncode == 0, placed.stderr
    assert "Ack" in placed.stdout and "decided by a.example" in placed.stdout

    again = await mmmfed("pa", "send", *operator, *placing, "--at", SQUARE, "--json")
    assert again.returncode == 4, again.stderr
    assert json.loads(again.stdout)["PAStatus"]["ErrorCode"] == "Clash"  # already placed: MM-Move it

    entering = ["--source", USER, "--destination", USER, "--action", "MM-Move", "--nil", PERSONA, "--at", ROOM1]
    refused = await mmmfed("pa", "send", *operator, *entering, "--json")
    assert refused.returncode == 4, refused.stderr
    assert json.loads(refused.stdout)["PAStatus"]["ErrorCode"] == "InsRights"

    shown = await mmmfed("activity", "show", *operator, "--process", USER, "--json")
    assert shown.returncode == 0, shown.stderr
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["Action"], r["PAStatus"]["Status"], r["PAStatus"].get("ErrorCode")) for r in records] == [
        ("MM-Add", "Ack", None),
        ("MM-Add", "Error", "Clash"),
        ("MM-Move", "Error", "InsRights"),
    ]


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
    assert answer["DecidedBy"] == "b.example"
    assert answer["PAStatus"]["Status"] == "Request"
    assert answer["PAStatus"]["Value"] == {"Amount": 5, "CurrencyID": "EUR"}


async def test_pa_send_refuses_bad_input_before_sending(federation: Federation, tmp_path: Path) -> None:
    """An unknown Action, a float payment and an unreadable file are refused with exit 2 and a
    reason naming the field; nothing reaches the M-Instance's Activity Data."""
    operator = _operator(federation, tmp_path)
    flags = ["--source", USER, "--destination", USER, "--nil", PERSONA]
    unknown = await mmmfed("pa", "send", *operator, *flags, "--action", "Fly")
    assert unknown.returncode == 2 and "PROCESS_ACTION_MALFORMED" in unknown.stderr, unknown.stderr
    assert "Action" in unknown.stderr

    floats = tmp_path / "float.json"
    floats.write_text(
        json.dumps(
            {
                "Action": "Transact",
                "SourceProcessID": USER,
                "DestinationProcessID": USER,
                "RQComplements": [{"Kind": "Nil", "ItemID": f"mmm://{A}/wallets/cli-user"}],
                "Payment": {"Amount": 1.5, "CurrencyID": "EUR"},
            }
        )
    )
    paid = await mmmfed("pa", "send", *operator, "--file", str(floats))
    assert paid.returncode == 2 and "Payment" in paid.stderr, paid.stderr

    missing = await mmmfed("pa", "send", *operator, "--file", str(tmp_path / "nowhere.json"))
    assert missing.returncode == 2 and "FILE_UNREADABLE" in missing.stderr, missing.stderr

    shown = await mmmfed("activity", "show", *operator, "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == ""

    keyless = [*operator[: operator.index("--key") + 1], str(tmp_path / "no-such.key")]
    unreadable = await mmmfed("activity", "show", *keyless)
    assert unreadable.returncode == 2 and "FILE_UNREADABLE" in unreadable.stderr, unreadable.stderr
    assert "Traceback" not in unreadable.stderr
