"""`mmmfed asset ...` against running M-Instances (FGMV-43 9.2): register, fund and migrate a real
glTF Asset with a payment exchanged ACU -> BCU, read its history on both sides and through the
gateway (ASIR-103), and refusals that exit 2 and change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from cliproc import mmmfed_in_thread as mmmfed
from sample_assets import BOX, needs_samples, usdz_package

from mmmfed.cli.inprocess import Federation

pytestmark = needs_samples
A, B = "a.example", "b.example"
ALICE, CAROL = f"mmm://{A}/processes/user/alice", f"mmm://{A}/processes/user/carol"
BOB = f"mmm://{B}/processes/user/bob"


def _operator(federation: Federation, tmp_path: Path, which: str) -> list[str]:
    """--config (instance a.example's or b.example's, written to a file) and the operator's TLS material."""
    cfg = federation.plan.instance_a if which == A else federation.plan.instance_b
    config = tmp_path / f"instance-{which}.json"
    config.write_text(cfg.model_dump_json())
    tls = federation.plan.operator_for(cfg)
    return ["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)]


async def _json(*args: str) -> object:
    done = await mmmfed(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def _processes(federation: Federation) -> None:
    """alice and carol are registered Processes of a.example (only a Process the M-Instance knows
    can Transact)."""
    assert federation.at_a is not None
    for process_id in (ALICE, CAROL):
        await federation.at_a.register_process(process_id)


async def _register(at_a: list[str], owner: str = ALICE, *extra: str, file: Path = BOX) -> str:
    registered = await _json("asset", "register", *at_a, "--owner", owner, "--file", str(file), *extra)
    assert isinstance(registered, dict)
    return str(registered["asset_id"])


async def test_transfer_with_payment_names_new_home_and_exchange(federation: Federation, tmp_path: Path) -> None:
    """Register BoxTextured.glb for alice at a.example, fund her Wallet, transfer it to bob at
    b.example with 1001 ACU: exit 0, the output names the new home and the exchange (fee 6 ACU,
    3/2, 1492 BCU); `status --json` agrees; `history` on both sides (and through a.example's
    gateway with --peer) shows the same Transaction closing the Provenance; `ledger` shows it."""
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    await _processes(federation)
    at_a, at_b = _operator(federation, tmp_path, A), _operator(federation, tmp_path, B)

    plain = await mmmfed("asset", "register", *at_a, "--owner", ALICE, "--file", str(BOX), "--title", "Box")
    assert plain.returncode == 0 and plain.stdout.startswith(f"mmm://{A}/"), plain.stderr
    asset_id = await _register(at_a, ALICE, "--market-class", "collectible", "--price", "700")
    funded = await _json("asset", "fund", *at_a, "--holder", ALICE, "--amount", "5000")
    assert funded == {"holder": ALICE, "balance": {"amount_minor": 5000, "currency_id": "ACU"}}

    sent = await mmmfed(
        "asset", "transfer", asset_id, *at_a, "--from", ALICE, "--to", BOB, "--pay", "1001", "--transfer-id", "urn:t:1"
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    status = await mmmfed("asset", "status", "urn:t:1", *at_a, "--json")
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)
    home = view["destination_asset_id"]
    assert (view["state"], view["transaction_status"], view["terminal"]) == ("COMPLETED", "Final", True)
    assert home.startswith(f"mmm://{B}/assets/")
    assert view["exchange"]["fee"] == {"amount_minor": 6, "currency_id": "ACU"}
    assert view["exchange"]["received"] == {"amount_minor": 1492, "currency_id": "BCU"}
    text = " ".join(sent.stdout.split())
    assert f"COMPLETED: {asset_id} now lives at {home}" in text and f"owned by {BOB} at {B}" in text
    assert "paid 1,001 ACU = fee 6 ACU + 995 ACU exchanged at 3/2 (half_even) -> received 1,492 BCU" in text
    assert "PENDING" in sent.stderr and "COMPLETED" in sent.stderr  # the progress trail

    here = await _json("asset", "history", asset_id, *at_a)
    there = await _json("asset", "history", home, *at_b)
    asked = await _json("asset", "history", home, *at_a, "--peer", B)
    assert isinstance(here, dict) and isinstance(there, dict) and isinstance(asked, dict)
    assert (here["asset"]["state"], here["asset"]["migrated_to"]) == ("MIGRATED", home)
    assert (there["asset"]["state"], there["asset"]["owner_process_id"]) == ("OWNED", BOB)
    moved = there["asset"]["item"]  # the CLI word "collectible" is MPAI's code, and travels with the price
    assert (moved["MarketClass"], moved["ValueMetadata"]["Price"]["Amount"]) == ("MC-DigitalCollectible", 700)
    last = here["provenance"][-1]
    assert last == there["provenance"][-1] == asked["provenance"][-1]
    assert (last["PayerProcessID"], last["PayeeProcessID"], last["Status"]) == (ALICE, BOB, "Final")
    assert [t["transfer_id"] for t in here["transfers"]] == [t["transfer_id"] for t in there["transfers"]]
    assert asked["m_instance_id"] == B and asked["asset"]["owner_process_id"] == BOB

    shown = await mmmfed("asset", "history", asset_id, *at_a)
    assert shown.returncode == 0, shown.stderr
    assert last["TransactionID"] in shown.stdout and "MIGRATED" in shown.stdout
    assert f"--peer {B}" in shown.stdout  # where to ask next
    ledger = await mmmfed("asset", "ledger", *at_b)
    assert ledger.returncode == 0 and home in ledger.stdout and "1,492" in ledger.stdout, ledger.stderr
    narrow = await mmmfed("asset", "history", asset_id, *at_a, columns=80)  # identifiers whole at 80 columns
    assert narrow.returncode == 0 and max(map(len, narrow.stdout.splitlines()[:-1])) <= 80, narrow.stdout
    for identifier in (asset_id, home, last["TransactionID"], "urn:t:1", ALICE, BOB):
        assert any(identifier in line for line in narrow.stdout.splitlines()), (identifier, narrow.stdout)
    wide = await mmmfed("asset", "ledger", *at_b, "--wide", columns=80)  # every column, one row per transfer
    header = next(line for line in wide.stdout.splitlines() if "transfer" in line and "role" in line)
    assert all(name in header for name in ("state", "Asset -> new home", "from -> to", "payment", "reason"))
    assert any("urn:t:1" in line and asset_id in line and ALICE in line for line in wide.stdout.splitlines())
    wallets = await _json("asset", "ledger", *at_b)
    assert isinstance(wallets, dict)
    assert {w["holder"]: w["balance"]["amount_minor"] for w in wallets["wallets"]}[BOB] == 1492


async def test_transfer_by_a_process_without_the_right_exits_2_and_changes_nothing(
    federation: Federation, tmp_path: Path
) -> None:
    """carol, who is not the owner, is refused (PERMISSION_DENIED NO_TRANSACT_RIGHT, exit 2, no
    traceback); an unreadable file, a market class that is not one of MMM-TEC V2.2's (named, with
    the choices), a service without a price and an unreachable M-Instance exit 2 with their
    reasons; both ledgers are identical before and after."""
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    await _processes(federation)
    at_a, at_b = _operator(federation, tmp_path, A), _operator(federation, tmp_path, B)
    asset_id = await _register(at_a)
    await _json("asset", "fund", *at_a, "--holder", CAROL, "--amount", "100")
    before = [await _json("asset", "ledger", *at) for at in (at_a, at_b)]

    refused = await mmmfed("asset", "transfer", asset_id, *at_a, "--from", CAROL, "--to", BOB, "--pay", "10")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "NO_TRANSACT_RIGHT" in refused.stderr and CAROL in refused.stderr
    assert "Traceback" not in refused.stderr
    missing = await mmmfed("asset", "register", *at_a, "--owner", ALICE, "--file", str(tmp_path / "nowhere.glb"))
    assert missing.returncode == 2 and "FILE_UNREADABLE" in missing.stderr, missing.stderr
    unknown = await mmmfed("asset", "register", *at_a, "--owner", ALICE, "--file", str(BOX), "--market-class", "rare")
    said = " ".join(unknown.stderr.split())
    assert unknown.returncode == 2 and "MARKET_CLASS_UNKNOWN" in said and "'rare'" in said, unknown.stderr
    assert "MC-DigitalCollectible (collectible)" in said and "MC-Donation (donation)" in said  # the choices
    service = await mmmfed(
        "asset", "register", *at_a, "--owner", ALICE, "--file", str(BOX), "--market-class", "service"
    )
    assert service.returncode == 2 and "ASSET_PRICE_MISSING" in service.stderr, service.stderr

    down = tmp_path / "down.json"
    down.write_text(federation.plan.instance_a.model_copy(update={"listen": "127.0.0.1:9"}).model_dump_json())
    unreachable = await mmmfed("asset", "ledger", "--config", str(down), *at_a[2:])
    assert unreachable.returncode == 2 and "UNAVAILABLE" in unreachable.stderr, unreachable.stderr
    assert "Traceback" not in unreachable.stderr

    assert [await _json("asset", "ledger", *at) for at in (at_a, at_b)] == before


async def test_refused_at_the_destination_exits_3_and_stuck_exits_4(federation: Federation, tmp_path: Path) -> None:
    """b.example accepts only glTF binary Assets: a USDZ one ends CANCELLED (exit 3, the reason
    printed, the Asset alice's again). With b.example's gateway down, a transfer waited on for
    0.3 s is still PENDING: exit 4 and the `asset status` command to check it later."""
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    await _processes(federation)
    at_a = _operator(federation, tmp_path, A)
    package = tmp_path / "cube.usdz"
    package.write_bytes(usdz_package())
    usdz = await _register(at_a, ALICE, "--format", "USDZ/1.0", "--media-type", "model/vnd.usdz+zip", file=package)
    cancelled = await mmmfed("asset", "transfer", usdz, *at_a, "--from", ALICE, "--to", BOB)
    assert cancelled.returncode == 3, cancelled.stdout + cancelled.stderr
    text = " ".join(cancelled.stdout.split())
    assert "CANCELLED (Transaction Rejected): QUALIFIER_NOT_SUPPORTED" in text
    assert f"{usdz} is {ALICE}'s again" in text

    box = await _register(at_a)
    await federation.nodes["gateway-b"].stop()
    flags = ["--from", ALICE, "--to", BOB, "--transfer-id", "urn:t:stuck", "--timeout-ms", "60000"]
    stuck = await mmmfed("asset", "transfer", box, *at_a, *flags, "--wait-s", "0.3")
    assert stuck.returncode == 4, stuck.stdout + stuck.stderr
    assert "still PENDING" in stuck.stdout and "mmmfed asset status urn:t:stuck --config" in stuck.stdout
    status = await mmmfed("asset", "status", "urn:t:stuck", *at_a, "--json")
    assert status.returncode == 4 and json.loads(status.stdout)["state"] == "PENDING", status.stderr
    # an operator's ABORT of the stuck transfer: the Asset is alice's again at once
    cancelled = await mmmfed("asset", "cancel", "urn:t:stuck", *at_a, "--note", "b.example is down", "--json")
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    view = json.loads(cancelled.stdout)
    assert (view["state"], view["reason"]) == ("ABORTING", "CANCELLED_BY_OPERATOR")
    again = await mmmfed("asset", "cancel", "urn:t:stuck", *at_a)
    assert again.returncode == 2 and "TRANSFER_DECIDED" in again.stderr and "Traceback" not in again.stderr
