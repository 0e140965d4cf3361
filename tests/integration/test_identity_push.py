"""Identity synchronisation on its own over real nodes and real mTLS (ITU FGMV-43 9.4 step 5,
IDSF; issue 17 item 6; gateway/identity_push.py): a change at home reaches every linked platform
without anyone running `identity sync`, within the scope the user consented to there, and a
platform whose gateway was down during the change gets it once it serves again (the home's
queue is durable, and survives the home's own restart)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_identity_migration import ALICE, _cli_json, _home_store, _linked_files, _migrate, _operator
from test_identity_sync import BORN, _at_b, _issue_profile, _new_held_key

from gateway.node import GatewayNode
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.cli.inprocess import Federation
from mmmfed.cli.loopback import plan
from mmmfed.config import StoreConfig
from mmmfed.identity.jose import read_jws
from mmmfed.identity.push_queue import PushQueue
from mmmfed.identity.sdjwt import parse_disclosure, parse_sd_jwt
from mmmfed.identity.user_did import user_did
from mmmfed.testing import RedisServer

A, B = "a.example", "b.example"
NEVER_AT_B = (b"de-DE", b"fr-FR", b"av1", b"birthdate", BORN.isoformat().encode())


async def _until(what: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
    """Wait until ``what()`` holds (the push runs on its own); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "the push did not arrive"
        await asyncio.sleep(0.1)


def _version_at_b(fed: Federation) -> int:
    record = _at_b(fed).get(A, user_did(A, "alice"))
    return -1 if record is None else record.version


def _queue_a(fed: Federation) -> PushQueue:
    return PushQueue(fed.plan.gateway_a.data_dir / "identity" / "push-queue")


def _record_presentations(fed: Federation) -> list[str]:
    """Every presentation b's gateway receives by RE-4 PushIdentityUpdate, in order (the real
    servicer's method wrapped, so what travelled can be read)."""
    seen: list[str] = []
    sync = fed.nodes["gateway-b"].identity_sync
    received = sync._push_update

    async def recording(request: ipb.PushIdentityUpdateRequest, peer: str, *material: Any) -> Any:
        seen.append(request.presentation)
        return await received(request, peer, *material)

    sync._push_update = recording
    return seen


async def test_idsf_a_change_at_home_reaches_the_linked_platform_without_identity_sync(
    negotiated: Federation,
) -> None:
    """alice linked b with name, age_over_18, avatars, rights and comfort. At home her credential
    is re-issued with another display name, her avatar revoked, a changed Right, other comfort
    preferences and other languages, and nobody runs `identity sync`: b holds version 2 with the
    new name, Right and comfort and no avatar; every presentation b received disclosed only
    consented claims (never languages, never the birthdate), and a's queue is empty."""
    rights = (f"mmm://{A}/rights/r1",)
    _issue_profile(
        negotiated, "alice", name="Alice", languages=("fr-FR",), avatars=(f"mmm://{A}/items/av1",), rights=rights,
        comfort={"motion": "full"},
    )  # fmt: skip
    did = user_did(A, "alice")
    async with _operator(negotiated) as home:
        await _migrate(home, ALICE, "name", "age_over_18", "avatars", "rights", "comfort")
    assert _version_at_b(negotiated) == 1
    presentations = _record_presentations(negotiated)

    changed = (f"mmm://{A}/rights/r2",)  # as `identity issue` re-issues it
    _issue_profile(
        negotiated, "alice", name="Alice Liddell", languages=("de-DE", "en"), rights=changed,
        comfort={"motion": "reduced"},
    )  # fmt: skip
    await _until(lambda: _version_at_b(negotiated) == 2)
    record = _at_b(negotiated).get(A, did)
    assert record is not None
    assert record.claims == {
        "name": "Alice Liddell", "age_over_18": True, "rights": list(changed), "comfort": {"motion": "reduced"},
    }  # fmt: skip
    seen = b"".join(p.read_bytes() for p in _linked_files(negotiated))
    for never in NEVER_AT_B:
        assert never not in seen, never
    assert presentations, "b received no push"
    for shown in presentations:
        names = {parse_disclosure(d).name for d in parse_sd_jwt(shown).disclosures}
        assert names <= {"name", "age_over_18", "avatars", "rights", "comfort"}, names
        assert "languages" not in names and "birthdate" not in names
    await _until(lambda: _queue_a(negotiated).entries(B) == [])
    assert _home_store(negotiated).links("alice")[B]["version"] == 2

    _issue_profile(negotiated, "alice", name="Alice L.", languages=("de-DE", "en"))  # and the next change: no Right
    await _until(lambda: _version_at_b(negotiated) == 3)
    record = _at_b(negotiated).get(A, did)
    assert record is not None and record.claims == {"name": "Alice L.", "age_over_18": True}
    audit = await negotiated.nodes["gateway-b"].audit.entries(peer_id=A)
    pushes = [e.event for e in audit if (e.details or {}).get("rpc") == "PushIdentityUpdate"]
    assert pushes and set(pushes) == {"ACCEPTED"}


async def test_idsf_a_platform_down_during_the_change_gets_it_after_its_gateway_restarts(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b's gateway is down when alice's name changes at home: a's durable queue keeps the push
    (b still holds version 1) and retries with backoff; a's gateway itself restarts meanwhile,
    and once b's gateway serves again, b holds version 2 and a's queue is empty. `identity show`
    tells the operator meanwhile that b holds version 1 and version 2 is queued for it."""
    fed = negotiated
    _issue_profile(fed, "alice", name="Alice")
    async with _operator(fed) as home:
        await _migrate(home, ALICE, "name", "age_over_18")
    await fed.nodes["gateway-b"].stop()

    _issue_profile(fed, "alice", name="Alice Liddell")
    worker = fed.nodes["gateway-a"].identity_push
    await worker.run_once()  # finds the change, and fails to push it
    (queued,) = _queue_a(fed).entries(B)
    assert (queued.user, queued.version) == ("alice", 2)
    assert _version_at_b(fed) == 1
    config_a = tmp_path / "gateway-a.json"
    config_a.write_text(fed.plan.gateway_a.model_dump_json())
    code, shown = await _cli_json("identity", "show", ALICE, "--config", str(config_a))
    assert code == 0 and (shown["links"][B]["version"], shown["links"][B]["queued_version"]) == (1, 2), shown

    await fed.nodes["gateway-a"].stop()  # the home restarts with the push still queued
    home_again = GatewayNode(fed.plan.gateway_a)
    fed.nodes["gateway-a"] = home_again
    home_again.identity_push.cap_s = 0.3  # retry every 0.3 s at most, so the catch-up is quick
    await home_again.start()
    assert [(e.user, e.version) for e in _queue_a(fed).entries(B)] == [("alice", 2)]

    restarted = GatewayNode(fed.plan.gateway_b)
    fed.nodes["gateway-b"] = restarted
    await restarted.start()
    await _until(lambda: _version_at_b(fed) == 2)
    record = _at_b(fed).get(A, user_did(A, "alice"))
    assert record is not None and record.claims == {"name": "Alice Liddell", "age_over_18": True}
    await _until(lambda: _queue_a(fed).entries(B) == [])
    assert _home_store(fed).links("alice")[B]["version"] == 2


async def test_idsf_a_push_the_platform_refuses_waits_alone_and_goes_once_the_credential_is_good(
    negotiated: Federation,
) -> None:
    """alice and bob are linked to b. alice's re-issued credential is revoked at home before it
    is pushed, and bob's changes too: b refuses alice's push (CREDENTIAL_REVOKED) and her entry
    waits, while bob's, queued after hers, reaches b. Re-issued again, alice's reaches b too."""
    fed = negotiated
    await fed.nodes["gateway-a"].identity_push.stop()  # its passes are run one by one below
    bob = f"mmm://{A}/processes/user/bob"
    for user in ("alice", "bob"):
        _issue_profile(fed, user, name=user.title())
    async with _operator(fed) as home:
        await _migrate(home, ALICE, "name", "age_over_18")
        await _migrate(home, bob, "name", "age_over_18")
    store = _home_store(fed)
    _issue_profile(fed, "alice", name="Alice Liddell")
    issued = read_jws(store.credential("alice").issuer_jwt, reason="CREDENTIAL_MALFORMED").payload
    store.revoke(issued["status"]["status_list"]["idx"])
    _issue_profile(fed, "bob", name="Bob Builder")

    worker = fed.nodes["gateway-a"].identity_push
    await worker.run_once()
    assert [(e.user, e.version) for e in _queue_a(fed).entries(B)] == [("alice", 2)]
    assert _version_at_b(fed) == 1
    record = _at_b(fed).get(A, user_did(A, "bob"))
    assert record is not None and (record.version, record.claims["name"]) == (2, "Bob Builder")
    audit = await fed.nodes["gateway-b"].audit.entries(peer_id=A)
    assert "CREDENTIAL_REVOKED" in [e.reason for e in audit if (e.details or {}).get("rpc") == "PushIdentityUpdate"]

    _issue_profile(fed, "alice", name="Alice L.")  # a new credential, at a new status index
    await worker.run_once()
    assert _version_at_b(fed) == 3 and _queue_a(fed).entries(B) == []
    record = _at_b(fed).get(A, user_did(A, "alice"))
    assert record is not None and record.claims == {"name": "Alice L.", "age_over_18": True}


async def test_idsf_home_replicas_on_redis_push_a_change_once(tmp_path: Path, redis_server: RedisServer) -> None:
    """a.example's gateway runs as two replicas on Redis sharing its data dir: one of them holds
    the push lease, alice's change at home reaches b once (one PushIdentityUpdate), and the other
    replica pushes nothing while the lease is held."""
    p = plan(tmp_path / "fed")
    store = StoreConfig(backend="redis", redis_url=redis_server.url)
    p = dataclasses.replace(p, gateway_a=p.gateway_a.model_copy(update={"store": store}))
    fed = Federation(p)
    second = GatewayNode(p.gateway_a.model_copy(update={"listen": "127.0.0.1:0"}))
    try:
        await fed.start()
        await second.start()
        assert fed.at_a is not None
        await fed.at_a.negotiate(B)
        _issue_profile(fed, "alice", name="Alice")
        async with _operator(fed) as home:
            await _migrate(home, ALICE, "name", "age_over_18")
        _issue_profile(fed, "alice", name="Alice Liddell")
        await _until(lambda: _version_at_b(fed) == 2)
        await _until(lambda: _queue_a(fed).entries(B) == [])
        held = [await node.identity_push.lease() for node in (fed.nodes["gateway-a"], second)]
        assert sorted(held) == [False, True], held
        audit = await fed.nodes["gateway-b"].audit.entries(peer_id=A)
        assert [e.event for e in audit if (e.details or {}).get("rpc") == "PushIdentityUpdate"] == ["ACCEPTED"]
    finally:
        await second.stop()
        await fed.stop()


async def test_idsf_a_credential_re_issued_with_the_same_claims_but_a_new_user_key_reaches_the_platform(
    negotiated: Federation,
) -> None:
    """The home gives alice a new key and re-issues her credential with the same claims (the
    profile version stays 1): the credential is still pushed on its own, and b, having found the
    new key in the home's DID document, holds it, so an unlink she signs with it is accepted."""
    fed = negotiated
    _issue_profile(fed, "alice", name="Alice")
    did = user_did(A, "alice")
    async with _operator(fed) as home:
        await _migrate(home, ALICE, "name", "age_over_18")
        before = _at_b(fed).get(A, did)
        assert before is not None
        second = _new_held_key(fed, "alice")
        _issue_profile(fed, "alice", name="Alice")

        def holds_new_key() -> bool:
            record = _at_b(fed).get(A, did)
            return record is not None and record.holder_jwk == second.jwk

        await _until(holds_new_key)
        record = _at_b(fed).get(A, did)
        assert record is not None and (record.version, record.claims) == (1, before.claims)
        await _until(lambda: _queue_a(fed).entries(B) == [])
        unlinked = await home.UnlinkIdentity(ipb.UnlinkIdentityRequest(process_id=ALICE, peer_m_instance_id=B))
        assert unlinked.receipt_path and _at_b(fed).get(A, did) is None
