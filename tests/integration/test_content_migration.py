"""`mmmfed content migrate ID --to b.example` over real nodes and real mTLS (ITU FGMV-43 9.3
steps 1-4, COIFC; RI-3 instance to gateway, RE-3 gateway to gateway): a .gltf package from
../shared/samples arrives at b.example with its home ItemID, its parts byte for byte, its owner,
metadata and Rights (COIR-302: b's engine enforces them); a repeated migration changes nothing;
a licence that grants no redistribution (COIR-103), a part changed on the way and a content past
b's limits are refused with their reasons and b stores nothing."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cliproc import mmmfed_in_thread as mmmfed
from contentflow import cli_json, operators
from sample_assets import BOX, MORPH_CUBE, needs_samples

import gateway.contents
from instance.world.model import Action, DeonticVerb, PAErrorCode, ProcessActionRequest, complements
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.cli.inprocess import Federation
from mmmfed.content.package import ContentPackage
from mmmfed.errors import MmmfedError
from mmmfed.items import domain_doc, new_id
from mmmfed.rpc import call

pytestmark = needs_samples
A, B = "a.example", "b.example"
ALICE = f"mmm://{A}/processes/user/alice"
BOB = f"mmm://{B}/processes/user/bob"


async def _cube(at_a: list[str], licence: str = "CC-BY-4.0") -> str:
    published = await cli_json(
        "content", "publish", str(MORPH_CUBE), *at_a, "--owner", ALICE, "--title", "Cube", "--licence", licence
    )
    return str(published["item_id"])


async def _migrate(content_id: str, at_a: list[str]) -> tuple[int, dict[str, object]]:
    done = await mmmfed("content", "migrate", content_id, *at_a, "--to", B, "--json")
    return done.returncode, json.loads(done.stdout)


async def _transfer_entries(fed: Federation) -> list[str]:
    """The reasons (or ACCEPTED) of b's gateway's audit entries of RE-3 TransferContent calls."""
    entries = await fed.nodes["gateway-b"].audit.entries(peer_id=A)
    return [e.reason or e.event for e in entries if (e.details or {}).get("rpc") == "TransferContent"]


async def test_fgmv43_9_3_steps_1_to_4_re3_a_gltf_package_migrates_with_its_home_item_id_once(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b holds the content under a's ItemID, signed by a's gateway, owned by alice at a, each part
    as published; migrating it again is answered already_held and b still holds one content."""
    at_a, at_b = await operators(negotiated, tmp_path)
    content_id = await _cube(at_a)
    code, first = await _migrate(content_id, at_a)
    assert code == 0, first
    assert (first["item_id"], first["owner_process_id"], first["already_held"]) == (content_id, ALICE, False)
    assert first["bytes_sent"] == MORPH_CUBE.stat().st_size + MORPH_CUBE.with_suffix(".bin").stat().st_size

    folder = tmp_path / "at-b"
    shown = await cli_json("content", "show", content_id, *at_b, "--out", str(folder))
    assert (shown["licence"], shown["title"], shown["owner_process_id"]) == ("CC-BY-4.0", "Cube", ALICE)
    for name in ("AnimatedMorphCube.gltf", "AnimatedMorphCube.bin"):
        assert (folder / name).read_bytes() == (MORPH_CUBE.parent / name).read_bytes()
    store = negotiated.nodes["instance-b"].contents.store
    assert store.home_of(content_id) == A
    proof = store.get(content_id).item.doc["proof"]
    assert f"{A}" in json.dumps(proof)  # signed at a's gateway (its did:web key)

    code, again = await _migrate(content_id, at_a)
    assert code == 0 and again["already_held"] is True
    plain = await mmmfed("content", "migrate", content_id, *at_a, "--to", B)
    assert plain.returncode == 0 and plain.stdout.strip() == content_id, plain.stderr
    assert "b.example already held it; nothing changed" in plain.stderr
    listed = await mmmfed("content", "list", *at_b, "--json")
    assert [c["item_id"] for c in json.loads(listed.stdout)] == [content_id]
    assert await _transfer_entries(negotiated) == ["ACCEPTED"] * 3


async def test_coir_302_the_contents_rights_travel_and_bs_engine_enforces_them(
    negotiated: Federation, tmp_path: Path
) -> None:
    """The Item's ICapabilities become Rights in b's World: alice (owner at home) may Modify the
    content there; bob, a User of b without the Right, is refused InsRights by b's engine."""
    at_a, _ = await operators(negotiated, tmp_path)
    content_id = await _cube(at_a)
    code, migrated = await _migrate(content_id, at_a)
    assert code == 0, migrated
    node_b = negotiated.nodes["instance-b"]
    world = node_b.process_actions.world
    doc = domain_doc(node_b.contents.store.get(content_id).item.raw)
    alice_rights = next(c["Rights"] for c in doc["ICapabilities"] if c["ProcessID"] == ALICE)
    assert "Modify" in alice_rights and "Hide" in alice_rights
    now = int(time.time() * 1000)
    assert world.may(ALICE, Action.HIDE, content_id, now) and not world.may(BOB, Action.HIDE, content_id, now)
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.HIDE,
        BOB,
        BOB,
        complements(nil=content_id),
        int(time.time() * 1000),
        process_action_id=new_id(B, "process-actions"),
    )
    status = node_b.process_actions.decide(request).status
    assert not status.is_ack and status.error is PAErrorCode.INS_RIGHTS, status


async def test_coir_103_a_licence_without_redistribution_is_refused_before_any_byte_leaves(
    negotiated: Federation, tmp_path: Path
) -> None:
    """LicenseRef-* (proprietary) and an AND with one: LICENCE_FORBIDS at a's gateway; b's store
    holds nothing and b's gateway saw no call. An OR with a listed licence migrates."""
    at_a, _ = await operators(negotiated, tmp_path)
    for licence in ("LicenseRef-Proprietary", "CC-BY-4.0 AND LicenseRef-Studio"):
        content_id = await _cube(at_a, licence)
        code, refused = await _migrate(content_id, at_a)
        assert (code, refused["error"]) == (2, "LICENCE_FORBIDS"), refused
    assert await _transfer_entries(negotiated) == []
    assert negotiated.nodes["instance-b"].contents.store.migrated_here() == []
    chosen = await _cube(at_a, "MIT OR LicenseRef-Studio")
    code, migrated = await _migrate(chosen, at_a)
    assert code == 0 and migrated["licence"] == "MIT OR LicenseRef-Studio"


@pytest.fixture
def tampered(monkeypatch: pytest.MonkeyPatch) -> None:
    """a's gateway sends the .bin with its last byte changed (the Item still lists the original)."""
    sent = gateway.contents.part_bytes

    def changed(package: ContentPackage) -> Iterator[bytes]:
        chunks = list(sent(package))
        chunks[-1] = chunks[-1][:-1] + bytes([chunks[-1][-1] ^ 1])
        return iter(chunks)

    monkeypatch.setattr(gateway.contents, "part_bytes", changed)


async def test_re3_a_part_changed_on_the_way_is_digest_mismatch_and_b_stores_nothing(
    negotiated: Federation, tmp_path: Path, tampered: None
) -> None:
    at_a, _ = await operators(negotiated, tmp_path)
    content_id = await _cube(at_a)
    code, refused = await _migrate(content_id, at_a)
    assert (code, refused["error"]) == (2, "DIGEST_MISMATCH"), refused
    assert await _transfer_entries(negotiated) == ["DIGEST_MISMATCH"]
    assert not negotiated.nodes["instance-b"].contents.store.has(content_id)


async def test_re3_a_content_past_bs_limits_or_outside_an_agreement_is_refused_and_nothing_stored(
    federation: Federation, tmp_path: Path
) -> None:
    """Before negotiation: NO_AGREEMENT at a. Then b accepts at most 1,000 bytes: CONTENT_TOO_LARGE
    from b's gateway before any part is read. A content that migrated to b is not b's to send on:
    NOT_HOME_CONTENT (a gateway signs only its own M-Instance's contents)."""
    at_a, at_b = await operators(federation, tmp_path)
    content_id = await _cube(at_a)
    code, refused = await _migrate(content_id, at_a)
    assert (code, refused["error"]) == (2, "NO_AGREEMENT"), refused
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    relay_b = federation.nodes["gateway-b"].contents
    relay_b.max_bytes = 1000
    code, refused = await _migrate(content_id, at_a)
    assert (code, refused["error"]) == (2, "CONTENT_TOO_LARGE"), refused
    assert not federation.nodes["instance-b"].contents.store.has(content_id)
    relay_b.max_bytes = 1 << 20
    code, _ = await _migrate(content_id, at_a)
    assert code == 0
    back = await mmmfed("content", "migrate", content_id, *at_b, "--to", A, "--json")
    assert back.returncode == 2 and json.loads(back.stdout)["error"] == "NOT_HOME_CONTENT", back.stdout


async def _publish_box(at_a: list[str]) -> str:
    published = await cli_json(
        "content", "publish", str(BOX), *at_a, "--owner", ALICE, "--title", "Box", "--licence", "CC-BY-4.0"
    )
    assert published["format"] == "glTF/2.0-binary"
    return str(published["item_id"])


async def _publish_policies(fed: Federation, policies: dict[str, str]) -> None:
    """b's M-Instance publishes ``policies`` in its manifesto (registered again with its gateway)."""
    node_b = fed.nodes["instance-b"]
    node_b.manifesto.policies.update(policies)
    await node_b.register_manifesto()


async def test_fgmv43_9_5_bs_manifesto_names_the_contents_it_accepts_and_a_refuses_the_rest_before_sending(
    federation: Federation, tmp_path: Path
) -> None:
    """b accepts binary glTF models and images of at most a given size: a Markdown text (which no
    bridge converts; test_content_bridging.py has the contents a bridge converts) is
    CONTENT_NOT_ACCEPTED naming what b accepts, a larger .glb CONTENT_TOO_LARGE, both refused at
    a's gateway (b's gateway saw no call); the .glb within the limit migrates."""
    at_a, _ = await operators(federation, tmp_path)
    await _publish_policies(
        federation, {"content.accepts": "Model3D glTF/2.0-binary, Image", "content.max_bytes": str(BOX.stat().st_size)}
    )
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n")
    owned = ("--owner", ALICE, "--title", "Notes", "--licence", "MIT")
    text = await cli_json("content", "publish", str(notes), *at_a, *owned)
    code, refused = await _migrate(str(text["item_id"]), at_a)
    assert (code, refused["error"]) == (2, "CONTENT_NOT_ACCEPTED"), refused
    assert "Model3D glTF/2.0-binary, Image" in refused["message"] and "Text Markdown" in refused["message"]
    box = await _publish_box(at_a)
    await _publish_policies(federation, {"content.max_bytes": str(BOX.stat().st_size - 1)})
    await federation.at_a.negotiate(B)
    code, refused = await _migrate(box, at_a)
    assert (code, refused["error"]) == (2, "CONTENT_TOO_LARGE"), refused
    assert await _transfer_entries(federation) == []
    await _publish_policies(federation, {"content.max_bytes": str(BOX.stat().st_size)})
    await federation.at_a.negotiate(B)
    code, migrated = await _migrate(box, at_a)
    assert code == 0 and migrated["format"] == "glTF/2.0-binary", migrated


async def test_fgmv43_9_5_bs_gateway_refuses_what_its_own_manifesto_no_longer_accepts(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b's manifesto changes after the negotiation (a's answer still accepts any content): b's
    gateway checks its own manifesto again and refuses, and b stores nothing."""
    at_a, _ = await operators(negotiated, tmp_path)
    await _publish_policies(negotiated, {"content.accepts": "Text"})
    cube = await _cube(at_a)
    code, refused = await _migrate(cube, at_a)
    assert (code, refused["error"]) == (2, "CONTENT_NOT_ACCEPTED"), refused
    assert await _transfer_entries(negotiated) == ["CONTENT_NOT_ACCEPTED"]
    assert not negotiated.nodes["instance-b"].contents.store.has(cube)


async def test_content_migrate_bad_input_exits_2_with_its_reason(negotiated: Federation, tmp_path: Path) -> None:
    """An unknown content, an unknown peer, the M-Instance itself: one reason each, nothing sent."""
    at_a, _ = await operators(negotiated, tmp_path)
    content_id = await _cube(at_a)
    cases = [
        (f"mmm://{A}/items/none", B, "CONTENT_NOT_FOUND"),
        (content_id, "c.example", "UNKNOWN_PEER"),
        (content_id, A, "BAD_PEER"),
    ]
    for wanted, to, reason in cases:
        done = await mmmfed("content", "migrate", wanted, *at_a, "--to", to, "--json")
        assert done.returncode == 2 and json.loads(done.stdout)["error"] == reason, (reason, done.stdout)
    assert await _transfer_entries(negotiated) == []


async def _send_as_a(fed: Federation, header: cpb.ContentTransferHeader, chunks: list[bytes]) -> str:
    """Call b's RE-3 TransferContent with a's gateway certificate; the error's reason."""
    stub = fed.nodes["gateway-a"].channels.peer(B)

    async def requests() -> AsyncIterator[cpb.ContentTransferRequest]:
        yield cpb.ContentTransferRequest(header=header)
        for chunk in chunks:
            yield cpb.ContentTransferRequest(chunk=chunk)

    with pytest.raises(MmmfedError) as refused:
        await call(lambda: stub.TransferContent(requests()), attempts=1)
    return refused.value.reason


async def test_re3_a_hostile_origin_is_refused_before_any_byte_reaches_bs_instance(
    negotiated: Federation, tmp_path: Path
) -> None:
    """Called by a's gateway itself: a content owned by a Process of c.example is ORIGIN_MISMATCH;
    a's Item as its instance holds it, unsigned by the gateway, is PROOF_MISSING."""
    at_a, _ = await operators(negotiated, tmp_path)
    content_id = await _cube(at_a)
    item = negotiated.nodes["instance-a"].contents.store.get(content_id).item
    foreign = cpb.ContentTransferHeader(
        transfer_id="urn:uuid:00000000-0000-4000-8000-000000000001",
        item=itpb.ItemEnvelope(item_json=item.raw),
        owner_process_id="mmm://c.example/processes/user/carol",
    )
    assert await _send_as_a(negotiated, foreign, [b"x"]) == "ORIGIN_MISMATCH"
    unsigned = cpb.ContentTransferHeader()
    unsigned.CopyFrom(foreign)
    unsigned.owner_process_id = ALICE
    assert await _send_as_a(negotiated, unsigned, [b"x"]) == "PROOF_MISSING"
    assert await _transfer_entries(negotiated) == ["ORIGIN_MISMATCH", "PROOF_MISSING"]
    assert not negotiated.nodes["instance-b"].contents.store.has(content_id)
