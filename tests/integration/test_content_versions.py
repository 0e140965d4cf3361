"""Content versions (COIR-104) and their synchronisation (COSF, ITU FGMV-43 9.3 steps 5-7) over
real nodes and real mTLS: `mmmfed content update|history|revert` make and show versions, each
content-addressed with its parents, author and time; the history travels with a migration and
b verifies each version; a version at either side reaches the other over RE-3 on its own;
concurrent edits of a text merge, of an image wait for the owner's `resolve`, after which both
sides hold the same head; a destination down during an edit catches up once it serves again."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from cliproc import mmmfed_in_thread as mmmfed
from contentflow import cli_json, cli_refused, operators
from PIL import Image
from rpcassert import refused

from gateway.node import GatewayNode
from gateway.version_signing import sign_versions
from instance.node import InstanceNode
from instance.world.model import Action, DeonticVerb, Right, RightLevel
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.content.item import PartRef
from mmmfed.content.versions import ContentVersion
from mmmfed.items import sha256_hex
from mmmfed.keys import InstanceKeyStore
from mmmfed.tls import secure_channel

A, B = "a.example", "b.example"
ALICE = f"mmm://{A}/processes/user/alice"
BOB = f"mmm://{B}/processes/user/bob"
TEXT_V1 = "# Notes\n\nline one\nline two\nline three\n"


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="PNG")
    return out.getvalue()


async def _publish(at: list[str], file: Path, title: str = "Notes") -> str:
    shown = await cli_json(
        "content", "publish", str(file), *at, "--owner", ALICE, "--title", title, "--licence", "CC-BY-4.0"
    )
    return str(shown["item_id"])


async def _history(content_id: str, at: list[str]) -> dict[str, Any]:
    shown = await cli_json("content", "history", content_id, *at)
    assert isinstance(shown, dict)
    return shown


def _current_bytes(fed: Federation, node: str, content_id: str) -> bytes:
    return fed.nodes[node].contents.store.package(content_id).root.data


async def _until(what: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
    """Wait until ``what()`` holds (synchronisation runs on its own); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "synchronisation did not arrive"
        await asyncio.sleep(0.1)


def _heads(fed: Federation, node: str, content_id: str) -> list[str]:
    return [h.version_id for h in fed.nodes[node].contents.history(content_id).heads]


def _let_bob_modify(fed: Federation, content_id: str) -> None:
    """Both Worlds give bob, a User of b, the Modify Right on the content (as its owner alice
    would grant it at each): b's to make a version, a's to apply it at home (COIR-302)."""
    for node in ("instance-b", "instance-a"):
        world = fed.nodes[node].process_actions.world
        right_id = f"{content_id}#{BOB}#Modify"
        world.rights[right_id] = Right(
            right_id, BOB, DeonticVerb.MAY, Action.MODIFY, content_id, RightLevel.GRANTED, ALICE, 0
        )


async def _pause_sync(fed: Federation) -> None:
    """Stop both M-Instances' own synchronisation (their queues keep what waits)."""
    for node in ("instance-a", "instance-b"):
        worker = fed.nodes[node].content_sync
        assert worker is not None
        await worker.stop()


async def test_coir_104_update_history_revert_make_content_addressed_versions(
    federation: Federation, tmp_path: Path
) -> None:
    """Publish makes the first version; update makes a second (parent the first, author alice);
    revert makes a NEW third equal to the first; each id is the sha-256 of its record, and the
    content's current bytes are the head's."""
    at_a, _ = await operators(federation, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    first = await _history(content_id, at_a)
    assert len(first["versions"]) == 1 and first["versions"][0]["parent_ids"] == []
    v1 = first["versions"][0]["version_id"]

    v2_text = TEXT_V1.replace("line two", "line 2").encode()
    updated = await cli_json("content", "update", content_id, str(_file(tmp_path, "notes-2.md", v2_text)), *at_a)
    assert (updated["parent_ids"], updated["author_process_id"]) == ([v1], ALICE)
    assert _current_bytes(federation, "instance-a", content_id) == v2_text

    reverted = await cli_json("content", "revert", content_id, v1[:12], *at_a)
    assert reverted["parent_ids"] == [updated["version_id"]] and reverted["version_id"] not in (
        v1,
        updated["version_id"],
    )
    assert _current_bytes(federation, "instance-a", content_id) == TEXT_V1.encode()

    history = await _history(content_id, at_a)
    ids = [v["version_id"] for v in history["versions"]]
    assert ids == [v1, updated["version_id"], reverted["version_id"]]
    assert history["head_ids"] == [reverted["version_id"]] == [history["current_version_id"]]
    for version in federation.nodes["instance-a"].contents.store.versions(content_id):
        assert version.version_id == sha256_hex(version.record_json)
        assert ContentVersion.from_record(version.record_json).version_id == version.version_id
    table = await mmmfed("content", "history", content_id, *at_a)
    assert table.returncode == 0 and v1[:12] in table.stdout and "current" in table.stdout, table.stderr


async def test_content_versions_bad_input_exits_2_with_one_reason(federation: Federation, tmp_path: Path) -> None:
    """Unknown content or version, a new version of another kind, one that changes nothing."""
    at_a, _ = await operators(federation, tmp_path)
    notes = _file(tmp_path, "notes.md", TEXT_V1.encode())
    content_id = await _publish(at_a, notes)
    unknown = f"mmm://{A}/items/nothing-here"
    assert await cli_refused("content", "history", unknown, *at_a) == "CONTENT_NOT_FOUND"
    assert await cli_refused("content", "update", unknown, str(notes), *at_a) == "CONTENT_NOT_FOUND"
    assert await cli_refused("content", "revert", content_id, "0123456789abcdef", *at_a) == "VERSION_NOT_FOUND"
    assert await cli_refused("content", "revert", content_id, "abc", *at_a) == "VERSION_NOT_FOUND"
    image = _file(tmp_path, "red.png", _png((255, 0, 0)))
    assert await cli_refused("content", "update", content_id, str(image), *at_a) == "CONTENT_KIND_CHANGED"
    assert await cli_refused("content", "update", content_id, str(notes), *at_a) == "CONTENT_UNCHANGED"
    assert await cli_refused("content", "update", content_id, str(tmp_path / "missing.md"), *at_a) == "FILE_UNREADABLE"
    assert await cli_refused("content", "sync", content_id, *at_a) == "NOT_LINKED"
    assert await cli_refused("content", "resolve", content_id, *at_a, "--keep", "0123456789ab") == "NO_CONFLICT"
    plain = await mmmfed("content", "revert", content_id, "0123456789abcdef", *at_a)
    assert plain.returncode == 2 and "VERSION_NOT_FOUND" in plain.stderr and "Traceback" not in plain.stderr
    assert len(await _history(content_id, at_a)) and len((await _history(content_id, at_a))["versions"]) == 1


async def test_cosf_history_travels_and_versions_reach_the_other_side_both_ways(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b receives every version on migration, each verified; a later version at a reaches b on
    its own, and one at b (bob, with the Modify Right there) reaches a; both stay linked."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    v2 = TEXT_V1.replace("line one", "line 1").encode()
    await cli_json("content", "update", content_id, str(_file(tmp_path, "n2.md", v2)), *at_a)
    done = await mmmfed("content", "migrate", content_id, *at_a, "--to", B, "--json")
    assert done.returncode == 0, done.stdout
    at_home, there = await _history(content_id, at_a), await _history(content_id, at_b)
    assert [v["version_id"] for v in there["versions"]] == [v["version_id"] for v in at_home["versions"]]
    assert there["current_version_id"] == at_home["current_version_id"]
    assert (at_home["linked_peers"], there["linked_peers"]) == ([B], [A])
    assert _current_bytes(fed, "instance-b", content_id) == v2

    v3 = v2.replace(b"line three", b"line 3")
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "n3.md", v3)), *at_a)
    await _until(lambda: _heads(fed, "instance-b", content_id) == [made["version_id"]])
    assert _current_bytes(fed, "instance-b", content_id) == v3

    v4 = v3 + b"added at b\n"
    n4 = str(_file(tmp_path, "n4.md", v4))
    assert await cli_refused("content", "update", content_id, n4, *at_b, "--author", BOB) == "InsRights"  # b's engine
    _let_bob_modify(fed, content_id)
    from_b = await cli_json("content", "update", content_id, n4, *at_b, "--author", BOB)
    assert from_b["parent_ids"] == [made["version_id"]]
    await _until(lambda: _heads(fed, "instance-a", content_id) == [from_b["version_id"]])
    assert _current_bytes(fed, "instance-a", content_id) == v4
    await _until(lambda: fed.nodes["instance-a"].contents.store.queued() == [])
    synced = await cli_json("content", "sync", content_id, *at_a)
    assert synced["head_ids"] == [from_b["version_id"]] and synced["peers"][0]["error"] == ""
    assert (synced["peers"][0]["sent"], synced["peers"][0]["received"]) == (0, 0)  # applied once: nothing new


async def test_cosf_concurrent_text_edits_merge_to_the_same_head_on_both_sides(
    negotiated: Federation, tmp_path: Path
) -> None:
    """a changes the first line, b the last, neither seeing the other: two heads, a conflict the
    version graph shows, merged at once into one merge version, the same at a and b."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    base = _heads(fed, "instance-a", content_id)
    await _pause_sync(fed)
    _let_bob_modify(fed, content_id)
    ours = TEXT_V1.replace("line one", "line ONE (a)").encode()
    theirs = TEXT_V1.replace("line three", "line THREE (b)").encode()
    va = await cli_json("content", "update", content_id, str(_file(tmp_path, "a.md", ours)), *at_a)
    vb = await cli_json("content", "update", content_id, str(_file(tmp_path, "b.md", theirs)), *at_b, "--author", BOB)
    assert va["parent_ids"] == vb["parent_ids"] == base

    synced = await cli_json("content", "sync", content_id, *at_a)
    assert synced["peers"][0]["error"] == "", synced
    head_a, head_b = _heads(fed, "instance-a", content_id), _heads(fed, "instance-b", content_id)
    assert head_a == head_b and len(head_a) == 1
    merge = fed.nodes["instance-a"].contents.history(content_id).heads[0]
    assert set(merge.parents) == {va["version_id"], vb["version_id"]}
    merged = TEXT_V1.replace("line one", "line ONE (a)").replace("line three", "line THREE (b)").encode()
    assert _current_bytes(fed, "instance-a", content_id) == merged == _current_bytes(fed, "instance-b", content_id)
    assert await cli_json("content", "conflicts", *at_a) == [] == await cli_json("content", "conflicts", *at_b)


async def test_cosf_concurrent_image_edits_wait_for_the_owner_then_both_hold_the_same_head(
    negotiated: Federation, tmp_path: Path
) -> None:
    """Two images made at once are never overwritten: both sides list the conflict, a further
    update is refused until the owner resolves; bob (not the owner) may not; alice keeps b's
    head at a, and the merge version reaches b on its own."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "red.png", _png((255, 0, 0))), "Swatch")
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    await _pause_sync(fed)
    _let_bob_modify(fed, content_id)
    green, blue = _png((0, 255, 0)), _png((0, 0, 255))
    va = await cli_json("content", "update", content_id, str(_file(tmp_path, "green.png", green)), *at_a)
    vb = await cli_json("content", "update", content_id, str(_file(tmp_path, "blue.png", blue)), *at_b, "--author", BOB)
    synced = await cli_json("content", "sync", content_id, *at_b)
    assert synced["peers"][0]["error"] == "", synced
    both = sorted([va["version_id"], vb["version_id"]])
    for at, node in ((at_a, "instance-a"), (at_b, "instance-b")):
        listed = await cli_json("content", "conflicts", *at)
        assert [c["content_id"] for c in listed] == [content_id]
        assert sorted(h["version_id"] for h in listed[0]["heads"]) == both
        assert sorted(_heads(fed, node, content_id)) == both
    assert _current_bytes(fed, "instance-a", content_id) == green  # each side still shows its own
    assert _current_bytes(fed, "instance-b", content_id) == blue
    table = await mmmfed("content", "conflicts", *at_a)
    assert table.returncode == 0 and vb["version_id"][:12] in table.stdout
    again = _file(tmp_path, "white.png", _png((255, 255, 255)))
    assert await cli_refused("content", "update", content_id, str(again), *at_a) == "CONTENT_IN_CONFLICT"
    assert await cli_refused("content", "resolve", content_id, *at_b, "--keep", vb["version_id"], "--author", BOB) == (
        "NOT_OWNER"
    )
    assert await cli_refused("content", "resolve", content_id, *at_a, "--keep", "0" * 12) == "VERSION_NOT_FOUND"

    for node in ("instance-a", "instance-b"):
        worker = fed.nodes[node].content_sync
        assert worker is not None
        worker.start()
    resolved = await cli_json("content", "resolve", content_id, *at_a, "--keep", vb["version_id"][:12])
    assert sorted(resolved["parent_ids"]) == both
    await _until(lambda: _heads(fed, "instance-b", content_id) == [resolved["version_id"]])
    assert _heads(fed, "instance-a", content_id) == [resolved["version_id"]]
    assert _current_bytes(fed, "instance-a", content_id) == blue == _current_bytes(fed, "instance-b", content_id)
    assert await cli_json("content", "conflicts", *at_b) == []


async def test_cosf_a_destination_down_during_an_edit_catches_up_after_restart(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b's gateway is down while alice edits at a: a's durable queue keeps the version and
    retries with backoff; once b's gateway serves again, b holds it, and a's queue is empty."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    await fed.nodes["gateway-b"].stop()
    edits = []
    for i in range(3):
        text = TEXT_V1.encode() + f"edit {i}\n".encode()
        edits.append(await cli_json("content", "update", content_id, str(_file(tmp_path, f"e{i}.md", text)), *at_a))
    worker = fed.nodes["instance-a"].content_sync
    assert worker is not None
    await worker.drain_once()
    assert [(p, c) for p, c, _ in fed.nodes["instance-a"].contents.store.queued()] == [(B, content_id)]
    worker.cap_s = 0.3  # retry every 0.3 s at most, so the catch-up is quick
    failed = await mmmfed("content", "sync", content_id, *at_a, "--json")
    assert failed.returncode == 2 and json.loads(failed.stdout)["peers"][0]["error"] == "UNAVAILABLE", failed.stdout
    restarted = GatewayNode(fed.plan.gateway_b)
    fed.nodes["gateway-b"] = restarted
    await restarted.start()
    await _until(lambda: _heads(fed, "instance-b", content_id) == [edits[-1]["version_id"]])
    await _until(lambda: fed.nodes["instance-a"].contents.store.queued() == [])
    history_b = await _history(content_id, at_b)
    assert [v["version_id"] for v in history_b["versions"][-3:]] == [e["version_id"] for e in edits]  # in order
    assert _current_bytes(fed, "instance-b", content_id) == TEXT_V1.encode() + b"edit 2\n"


def _as_gateway_a(fed: Federation) -> Any:
    """A channel to gateway B presenting gateway A's certificate (the peer B is configured with)."""
    b = fed.plan.gateway_b
    return secure_channel(fed.plan.gateway_a.tls, peer(b), roots=b.tls.ca_cert.read_bytes())


async def test_re3_versions_a_peer_may_not_send_are_refused_and_b_stores_nothing(
    negotiated: Federation, tmp_path: Path
) -> None:
    """Called as a's gateway: a version whose id is not its record's digest (VERSION_ID_MISMATCH),
    whose part is not what it lists (DIGEST_MISMATCH), that changes the owner's licence
    (LICENCE_CHANGED), whose parent b does not hold (VERSION_PARENT_MISSING), and any version of
    a content not linked with a (NOT_LINKED); b's history is unchanged."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    head = _heads(fed, "instance-b", content_id)[0]
    held = fed.nodes["instance-b"].contents.store.versions(content_id)
    text = b"# Notes\n\nchanged by a hostile peer\n"
    metadata = dict(held[-1].metadata)

    def version(parents: list[str], meta: dict[str, Any], data: bytes = text) -> ContentVersion:
        return ContentVersion.make(
            content_id=content_id,
            parents=parents,
            author=ALICE,
            time_ms=int(time.time() * 1000),
            qualifier=held[-1].qualifier,
            metadata=meta,
            parts=[PartRef("notes.md", "text/markdown", len(data), sha256_hex(data))],
        )

    def message(v: ContentVersion, data: bytes = text, *, vid: str | None = None) -> cpb.ContentVersions:
        part = cpb.ContentPartData(path="notes.md", media_type="text/markdown", data=data)
        sent = cpb.ContentVersionData(version_id=vid or v.version_id, record_json=v.record_json, parts=[part])
        return cpb.ContentVersions(content_id=content_id, versions=[sent])

    def signed(sent: cpb.ContentVersions) -> cpb.ContentVersions:  # as a's gateway signs what it sends
        return sign_versions(sent, keys=fed.nodes["gateway-a"].keys, destination=B)

    good = version([head], metadata)
    cases = [  # each version's shape is checked before its signature, as an Item's is
        (message(good, vid="0" * 64), grpc.StatusCode.DATA_LOSS, "VERSION_ID_MISMATCH"),
        (signed(message(good, text + b"!")), grpc.StatusCode.DATA_LOSS, "SIZE_MISMATCH"),
        (
            signed(message(good, text.replace(b"hostile", b"HOSTILE"))),
            grpc.StatusCode.DATA_LOSS,
            "DIGEST_MISMATCH",
        ),
        (
            signed(message(version([head], {**metadata, "Licence": "MIT"}))),
            grpc.StatusCode.PERMISSION_DENIED,
            "LICENCE_CHANGED",
        ),
        (
            signed(message(version(["f" * 64], metadata))),
            grpc.StatusCode.FAILED_PRECONDITION,
            "VERSION_PARENT_MISSING",
        ),
    ]
    async with _as_gateway_a(fed) as channel:
        exchange = gateway_pb2_grpc.FederationStub(channel).ExchangeContentVersions
        for sent, code, reason in cases:
            await refused(exchange(sent), code, reason)
        own = await cli_json(
            "content",
            "publish",
            str(_file(tmp_path, "b.md", b"# b's own\n")),
            *at_b,
            "--owner",
            BOB,
            "--title",
            "Own",
            "--licence",
            "MIT",
        )
        await refused(
            exchange(signed(cpb.ContentVersions(content_id=str(own["item_id"])))),
            grpc.StatusCode.PERMISSION_DENIED,
            "NOT_LINKED",
        )
    assert [v.version_id for v in fed.nodes["instance-b"].contents.store.versions(content_id)] == [
        v.version_id for v in held
    ]


async def test_cosf_the_queue_is_durable_a_sender_restarted_during_an_outage_still_delivers(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b's gateway is down when alice edits at a, then a's M-Instance restarts: the version waits
    in a's database, and the restarted M-Instance delivers it once b's gateway serves again."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    await fed.nodes["gateway-b"].stop()
    text = TEXT_V1.encode() + b"written during the outage\n"
    edit = await cli_json("content", "update", content_id, str(_file(tmp_path, "e.md", text)), *at_a)
    await fed.nodes["instance-a"].stop()
    restarted = InstanceNode(fed.plan.instance_a)
    fed.nodes["instance-a"] = restarted
    assert [(p, c) for p, c, _ in restarted.contents.store.queued()] == [(B, content_id)]
    assert restarted.content_sync is not None
    restarted.content_sync.cap_s = 0.3
    await restarted.start()
    gateway_b = GatewayNode(fed.plan.gateway_b)
    fed.nodes["gateway-b"] = gateway_b
    await gateway_b.start()
    await _until(lambda: _heads(fed, "instance-b", content_id) == [edit["version_id"]])
    assert _current_bytes(fed, "instance-b", content_id) == text
    await _until(lambda: restarted.contents.store.queued() == [])


async def test_cosf_a_version_from_the_peer_stays_current_in_the_home_world_after_a_restart(
    negotiated: Federation, tmp_path: Path
) -> None:
    """bob's version from b became current at a outside any Process Action of a's: after a's
    M-Instance restarts (its World replayed from Activity Data), the World holds the content at
    that version again, as the store does, and alice's next update builds on it."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    _let_bob_modify(fed, content_id)
    text = TEXT_V1.encode() + b"from b\n"
    from_b = await cli_json("content", "update", content_id, str(_file(tmp_path, "b.md", text)), *at_b, "--author", BOB)
    await _until(lambda: _heads(fed, "instance-a", content_id) == [from_b["version_id"]])
    await fed.nodes["instance-a"].stop()
    restarted = InstanceNode(fed.plan.instance_a)
    fed.nodes["instance-a"] = restarted
    await restarted.start()
    stored = restarted.contents.store.get(content_id).item.doc
    held = restarted.process_actions.world.items[content_id]
    assert held["ItemParts"] == stored["ItemParts"] and held["ItemParts"][0]["Size"] == len(text)
    later = text + b"and from a again\n"
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "a.md", later)), *at_a)
    assert made["parent_ids"] == [from_b["version_id"]]


async def test_cosf_a_refused_row_waits_alone_and_never_holds_up_the_destinations_queue(
    negotiated: Federation, tmp_path: Path
) -> None:
    """The oldest row of a's queue for b names a content a's gateway refuses (CONTENT_NOT_FOUND,
    a refusal, not an outage): it backs off on its own and stays queued, while a later version of
    another content reaches b."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    store = fed.nodes["instance-a"].contents.store
    missing = f"mmm://{A}/items/not-here"
    store.queue_sync(missing, now_ms=0, peer=B)  # queued first, so it heads the queue
    text = TEXT_V1.encode() + b"behind a refused row\n"
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "n.md", text)), *at_a)
    await _until(lambda: _heads(fed, "instance-b", content_id) == [made["version_id"]])
    await _until(lambda: [c for _, c, _ in store.queued()] == [missing])


async def test_re3_versions_are_signed_by_the_sending_gateway_and_b_refuses_forged_or_tampered_ones(
    negotiated: Federation, tmp_path: Path
) -> None:
    """Every RE-3 message carries an envelope a's gateway signed over what a's M-Instance holds:
    b refuses a version sent unsigned (ENVELOPE_MISSING), one changed after a's gateway signed
    it, even re-addressed under its new id (ENVELOPE_MISMATCH), a signed message sent again
    (REPLAYED), and, once a rotated its key and revoked the old one as compromised, one signed
    with that old key (KEY_REVOKED), and one signed by a key a never published (KEY_UNKNOWN); b
    stores none of them. A version a's gateway signs with its new key reaches b."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    await _pause_sync(fed)
    head = _heads(fed, "instance-b", content_id)[0]
    held = [v.version_id for v in fed.nodes["instance-b"].contents.store.versions(content_id)]
    last = fed.nodes["instance-b"].contents.store.versions(content_id)[-1]
    keys_a = fed.nodes["gateway-a"].keys
    stolen = tmp_path / "stolen-keys"  # a copy of a's keys as they are now: the key a revokes below
    shutil.copytree(keys_a.directory, stolen)

    def message(text: bytes) -> cpb.ContentVersions:
        v = ContentVersion.make(
            content_id=content_id,
            parents=[head],
            author=ALICE,
            time_ms=int(time.time() * 1000),
            qualifier=last.qualifier,
            metadata=last.metadata,
            parts=[PartRef("notes.md", "text/markdown", len(text), sha256_hex(text))],
        )
        part = cpb.ContentPartData(path="notes.md", media_type="text/markdown", data=text)
        data = cpb.ContentVersionData(version_id=v.version_id, record_json=v.record_json, parts=[part])
        return cpb.ContentVersions(content_id=content_id, known_ids=held, versions=[data])

    honest = sign_versions(message(b"# Notes\n\nsigned by a\n"), keys=keys_a, destination=B)
    tampered = cpb.ContentVersions()
    tampered.CopyFrom(honest)
    swapped = message(b"# Notes\n\nswapped on the way\n").versions[0]  # a valid version, another one
    del tampered.versions[:]
    tampered.versions.append(swapped)
    InstanceKeyStore(tmp_path / "forged", A).rotate()
    forged = sign_versions(
        message(b"# Notes\n\nforged\n"), keys=InstanceKeyStore(tmp_path / "forged", A), destination=B
    )
    ask = sign_versions(cpb.ContentVersions(content_id=content_id, known_ids=held), keys=keys_a, destination=B)
    async with _as_gateway_a(fed) as channel:
        exchange = gateway_pb2_grpc.FederationStub(channel).ExchangeContentVersions
        denied = grpc.StatusCode.PERMISSION_DENIED
        await refused(exchange(message(b"# Notes\n\nunsigned\n")), denied, "ENVELOPE_MISSING")
        await refused(exchange(tampered), denied, "ENVELOPE_MISMATCH", "ItemSHA256")
        await exchange(ask)
        await refused(exchange(ask), denied, "REPLAYED")
        assert [v.version_id for v in fed.nodes["instance-b"].contents.store.versions(content_id)] == held
        old = keys_a.records()[-1].key_id
        # b refetches a's keys for an unknown key at most every 5 s: now, not within the test's first seconds
        fed.nodes["gateway-b"].keyring.min_refresh_s = 0.0
        keys_a.rotate()
        keys_a.revoke(old, reason="compromised")
        # a's next message, signed with the new key, makes b's keyring fetch a's keys again
        await exchange(sign_versions(message(b"# Notes\n\nnew key\n"), keys=keys_a, destination=B))
        with_old = sign_versions(message(b"# Notes\n\nold key\n"), keys=InstanceKeyStore(stolen, A), destination=B)
        await refused(exchange(with_old), denied, "KEY_REVOKED")
        await refused(exchange(forged), denied, "KEY_UNKNOWN")
    after = fed.nodes["instance-b"].contents.store.versions(content_id)
    assert len(after) == len(held) + 1
    assert _current_bytes(fed, "instance-b", content_id) == b"# Notes\n\nnew key\n"


async def test_coir_302_b_applies_a_version_only_if_its_author_may_modify_the_content_at_b(
    negotiated: Federation, tmp_path: Path
) -> None:
    """carol, a User of a whom a's World lets Modify alice's content after it migrated, makes a
    version at a; b's World gives carol no Modify Right on it, so b refuses it ``InsRights`` and
    stores nothing, and a's `content sync` shows that reason. Once b's World holds the Right
    too, the same version reaches b."""
    fed = negotiated
    at_a, at_b = await operators(fed, tmp_path)
    carol = f"mmm://{A}/processes/user/carol"
    assert fed.at_a is not None
    await fed.at_a.register_process(carol)
    content_id = await _publish(at_a, _file(tmp_path, "notes.md", TEXT_V1.encode()))
    assert (await mmmfed("content", "migrate", content_id, *at_a, "--to", B)).returncode == 0
    held = [v["version_id"] for v in (await _history(content_id, at_b))["versions"]]

    def grant(node: str) -> None:
        right_id = f"{content_id}#{carol}#Modify"
        fed.nodes[node].process_actions.world.rights[right_id] = Right(
            right_id, carol, DeonticVerb.MAY, Action.MODIFY, content_id, RightLevel.GRANTED, ALICE, 0
        )

    grant("instance-a")
    text = TEXT_V1.encode() + b"by carol\n"
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "c.md", text)), *at_a, "--author", carol)
    done = await mmmfed("content", "sync", content_id, *at_a, "--json")
    assert done.returncode == 2, done.stdout + done.stderr  # not done: b refused it
    synced = json.loads(done.stdout)
    assert [(p["peer_m_instance_id"], p["error"]) for p in synced["peers"]] == [(B, "InsRights")]
    assert carol in synced["peers"][0]["message"]
    assert [v["version_id"] for v in (await _history(content_id, at_b))["versions"]] == held
    grant("instance-b")
    await cli_json("content", "sync", content_id, *at_a)
    assert _heads(fed, "instance-b", content_id) == [made["version_id"]]
    assert _current_bytes(fed, "instance-b", content_id) == text
