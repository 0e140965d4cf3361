"""`mmmfed content search|share` over real nodes and real mTLS (ITU FGMV-43 9.3, COIR-101/105;
RI-3 instance to gateway, RE-3 gateway to gateway): a search finds this M-Instance's contents by
words and filters; with --peers it finds what a peer shares with us, each hit's Item signed by
that peer's gateway and verified here; what is not shared is never found; a peer that refuses or
answers a forged hit is named among the failures and never fails the search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cliproc import mmmfed_in_thread as mmmfed
from contentflow import cli_json, cli_refused, operators
from sample_assets import BOX, MORPH_CUBE, needs_samples

from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.cli.inprocess import Federation
from mmmfed.errors import FailedPrecondition
from mmmfed.items import domain_doc

pytestmark = needs_samples
A, B = "a.example", "b.example"
ALICE = f"mmm://{A}/processes/user/alice"
BOB = f"mmm://{B}/processes/user/bob"


async def _publish(at: list[str], owner: str, file: Path, title: str, *extra: str) -> str:
    shown = await cli_json("content", "publish", str(file), *at, "--owner", owner, "--title", title, *extra)
    return str(shown["item_id"])


async def test_coir101_local_search_by_words_and_filters(negotiated: Federation, tmp_path: Path) -> None:
    at_a, _ = await operators(negotiated, tmp_path)
    cube = await _publish(at_a, ALICE, MORPH_CUBE, "Morph cube", "--licence", "CC-BY-4.0", "--tag", "demo")
    box = await _publish(
        at_a, ALICE, BOX, "Box", "--licence", "CC0-1.0", "--description", "A textured cube-like crate", "--tag", "crate"
    )
    ranked = await cli_json("content", "search", "cube", *at_a)
    # Both match "cube"; the title match ranks above the description match.
    assert [h["item_id"] for h in ranked["hits"]] == [cube, box] and ranked["failures"] == []
    assert {h["m_instance_id"] for h in ranked["hits"]} == {A}
    assert [h["item_id"] for h in (await cli_json("content", "search", "cube", *at_a, "--tag", "crate"))["hits"]] == [
        box
    ]
    both_words = await cli_json("content", "search", "MORPH Cube", *at_a)
    assert [h["item_id"] for h in both_words["hits"]] == [cube]
    assert (await cli_json("content", "search", "cube", *at_a, "--licence", "MIT"))["hits"] == []
    assert [h["item_id"] for h in (await cli_json("content", "search", "", *at_a, "--limit", "1"))["hits"]] == [cube]
    assert await cli_refused("content", "search", "a b c d e f g h i", *at_a) == "CONTENT_QUERY_INVALID"
    assert await cli_refused("content", "search", "x", *at_a, "--kind", "Hologram") == "CONTENT_QUERY_INVALID"


async def test_coir105_peer_search_finds_only_what_the_peer_shares_signed_by_its_gateway(
    negotiated: Federation, tmp_path: Path
) -> None:
    at_a, at_b = await operators(negotiated, tmp_path)
    lantern = await _publish(at_b, BOB, BOX, "Lantern", "--licence", "CC-BY-4.0", "--tag", "light")
    await _publish(at_b, BOB, MORPH_CUBE, "Private lantern", "--licence", "CC-BY-4.0")
    before = await cli_json("content", "search", "lantern", *at_a, "--peers")
    assert before == {"hits": [], "failures": []}  # nothing shared yet: b answers with nothing

    shared = await cli_json("content", "share", lantern, *at_b, "--with", A)
    assert shared == {"item_id": lantern, "shared_with": [A]}
    found = await cli_json("content", "search", "lantern", *at_a, "--peers")
    assert [(h["m_instance_id"], h["item_id"], h["owner_process_id"]) for h in found["hits"]] == [(B, lantern, BOB)]
    assert found["failures"] == []
    # Without --peers only a's own contents are searched.
    assert (await cli_json("content", "search", "lantern", *at_a))["hits"] == []

    # The hit's Item is b's, signed by b's gateway (a's gateway verified it before answering).
    request = cpb.SearchContentsRequest(query=cpb.ContentQuery(text="lantern"), peers=True)
    answer = await negotiated.nodes["gateway-a"].content_search.search_peers(request)
    proof = domain_doc(answer.hits[0].content.item.item_json)["proof"]
    assert f"did:web:{B}" in json.dumps(proof)

    unshared = await cli_json("content", "share", lantern, *at_b, "--with", A, "--unshare")
    assert unshared["shared_with"] == []
    assert (await cli_json("content", "search", "lantern", *at_a, "--peers"))["hits"] == []


async def test_coir105_share_refuses_what_it_cannot_share(negotiated: Federation, tmp_path: Path) -> None:
    at_a, at_b = await operators(negotiated, tmp_path)
    cube = await _publish(at_a, ALICE, MORPH_CUBE, "Cube", "--licence", "CC-BY-4.0")
    assert await cli_refused("content", "share", f"mmm://{A}/items/nope", *at_a, "--with", B) == "CONTENT_NOT_FOUND"
    assert await cli_refused("content", "share", cube, *at_a, "--with", A) == "BAD_PEER"
    assert await cli_refused("content", "share", cube, *at_a, "--with", "not a host") == "BAD_PEER"
    migrated = await mmmfed("content", "migrate", cube, *at_a, "--to", B)
    assert migrated.returncode == 0, migrated.stderr
    # At b the content is a's: only its home shares it.
    assert await cli_refused("content", "share", cube, *at_b, "--with", A) == "NOT_HOME_CONTENT"


async def test_coir105_a_failing_or_forging_peer_is_named_and_never_fails_the_search(
    negotiated: Federation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_a, at_b = await operators(negotiated, tmp_path)
    mine = await _publish(at_a, ALICE, MORPH_CUBE, "Lantern at home", "--licence", "CC-BY-4.0")
    theirs = await _publish(at_b, BOB, BOX, "Lantern", "--licence", "CC-BY-4.0")
    await cli_json("content", "share", theirs, *at_b, "--with", A)
    search_b = negotiated.nodes["gateway-b"].content_search

    async def refuses(request: cpb.SearchContentsRequest, peer: str) -> cpb.SearchContentsResponse:
        raise FailedPrecondition("b is closed for searches today", reason="SEARCH_CLOSED")

    monkeypatch.setattr(search_b, "answer", refuses)
    failed = await cli_json("content", "search", "lantern", *at_a, "--peers")
    assert [h["item_id"] for h in failed["hits"]] == [mine]
    assert [(f["peer"], f["reason"]) for f in failed["failures"]] == [(B, "SEARCH_CLOSED")]
    plain = await mmmfed("content", "search", "lantern", *at_a, "--peers")
    assert plain.returncode == 0 and "b.example did not answer: SEARCH_CLOSED" in plain.stderr

    async def forges(request: cpb.SearchContentsRequest, peer: str) -> cpb.SearchContentsResponse:
        """b's Item as its instance holds it, not signed by b's gateway."""
        stored = negotiated.nodes["instance-b"].contents.store.get(theirs)
        view = cpb.ContentView(owner_process_id=BOB)
        view.item.item_json = stored.item.raw
        return cpb.SearchContentsResponse(hits=[cpb.ContentHit(m_instance_id=B, content=view)])

    monkeypatch.setattr(search_b, "answer", forges)
    forged = await cli_json("content", "search", "lantern", *at_a, "--peers")
    assert [h["item_id"] for h in forged["hits"]] == [mine]
    assert [(f["peer"], f["reason"]) for f in forged["failures"]] == [(B, "HIT_REFUSED")]
    assert "PROOF_MISSING" in forged["failures"][0]["message"]
