"""Identity migration over real nodes and real mTLS (ITU FGMV-43 9.4 steps 1-4, IDIFC; IDMF,
IDVF; IDIR-204/303/306; issue 17 items 2-5): RI-4 operator to home gateway, RE-4 gateway to
gateway. b.example's manifesto requires ``age_over_18`` and ``name`` (mmmfed/cli/loopback.py).

Shown here: b stores exactly the claims chosen and no other; a tampered, replayed,
wrongly-addressed or revoked presentation is refused with its reason and nothing stored;
eligibility refusals name their rule; re-migration gives the same Process; unlink leaves no
disclosed data at b and a receipt of deletion, signed by b, at home."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cliproc import mmmfed_in_thread as mmmfed
from rpcassert import refused
from sample_assets import GODETTE

from instance.world.itemdocs import item_doc
from instance.world.model import Action, DeonticVerb, ProcessActionRequest, ProcessType, complements
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import identity_pb2_grpc
from mmmfed.api.v1.instance_pb2 import ActRequest, ListUsersRequest
from mmmfed.cli.inprocess import Federation
from mmmfed.config import PeerAddress
from mmmfed.identity.claims import IdentityProfile
from mmmfed.identity.credential import Issuer, issue_credential
from mmmfed.identity.jose import read_jws
from mmmfed.identity.presentation import present
from mmmfed.identity.receipts import verify_receipt
from mmmfed.identity.reputation import Reputation, issue_reputation
from mmmfed.identity.sdjwt import SdJwt, make_disclosure
from mmmfed.identity.store import IdentityStore, credential_digest
from mmmfed.identity.user_did import user_did
from mmmfed.items import parse_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import error_info
from mmmfed.tls import secure_channel

A, B = "a.example", "b.example"
ALICE = f"mmm://{A}/processes/user/alice"
KIT = f"mmm://{A}/processes/user/kit"
INVALID, FAILED, DENIED = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
)


def _text(path: str | Path) -> str | None:
    """The file's text, or None if there is none."""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return None


def _home_store(fed: Federation) -> IdentityStore:
    return IdentityStore(fed.plan.gateway_a.data_dir / "identity", A)


def _issue(
    fed: Federation,
    user: str,
    *,
    name: str,
    years: int,
    reports: int | None = None,
    avatars: tuple[Any, ...] = (f"mmm://{A}/items/av1",),
) -> str:
    """Issue ``user`` at a.example a credential (as `mmmfed identity issue` does), born ``years``
    years and a day ago, with languages and an avatar reference too, and, given ``reports``, a
    reputation credential of a.example counting that many reports; returns the birthdate."""
    today = dt.datetime.now(dt.UTC).date()
    born = today.replace(year=today.year - years) - dt.timedelta(days=1)
    keys = InstanceKeyStore(fed.plan.gateway_a.data_dir / "keys", A)
    record, key = keys.current()
    store = _home_store(fed)
    did = user_did(A, user)
    holder = store.user_key(user, did=did, created="2026-01-01T00:00:00Z")
    reputation = None
    if reports is not None:
        now_s = int(time.time())
        standing = Reputation(
            issuer=f"did:web:{A}",
            subject=did,
            period_from=today - dt.timedelta(days=30),
            period_to=today,
            sanctions={},
            reports={"spam": reports},
            standing="good",
            issued_at_s=now_s,
            expires_s=now_s + 86400,
        )
        reputation = issue_reputation(standing, key=key, kid=keys.method(record))
    profile = IdentityProfile(
        name=name,
        birthdate=born,
        languages=("fr-FR", "en"),
        avatars=avatars,
        reputation=reputation,
    )
    credential = issue_credential(
        profile,
        issuer=Issuer(A, record, key),
        subject_did=did,
        holder=holder,
        status=store.allocate(),
        issued_at_s=int(time.time()),
    )
    store.save_credential(user, credential)
    return born.isoformat()


@contextlib.asynccontextmanager
async def _operator(fed: Federation) -> AsyncIterator[identity_pb2_grpc.IdentityGatewayAsyncStub]:
    """a.example's operator on its gateway's RI-4 (IdentityGateway), over mTLS."""
    gw = fed.plan.gateway_a
    async with secure_channel(fed.plan.operators[A], PeerAddress(tls_name=gw.tls_name, address=gw.listen)) as ch:
        yield identity_pb2_grpc.IdentityGatewayStub(ch)


def _migrate(stub: Any, process_id: str, *claims: str) -> Any:
    request = ipb.MigrateIdentityRequest(process_id=process_id, peer_m_instance_id=B, disclose=list(claims))
    return stub.MigrateIdentity(request)


def _linked_files(fed: Federation) -> list[Path]:
    """Every file b.example's gateway holds for linked identities."""
    root = fed.plan.gateway_b.data_dir / "identity" / "linked"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _b_identity_bytes(fed: Federation) -> bytes:
    """Everything under b's gateway identity folder, concatenated (to search for claims)."""
    root = fed.plan.gateway_b.data_dir / "identity"
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()) if root.exists() else b""


async def test_fgmv43_9_4_b_stores_exactly_the_chosen_claims_and_the_same_did_is_the_same_process(
    negotiated: Federation,
) -> None:
    """alice discloses name and age_over_18: b's link holds exactly those two claims (not her
    birthdate, languages, avatars or other ages, which b never saw); migrating again is the same
    Process; the home records the link."""
    born = _issue(negotiated, "alice", name="Alice Liddell", years=30)
    async with _operator(negotiated) as home:
        first = await _migrate(home, ALICE, "name", "age_over_18")
        assert (first.did, first.peer_m_instance_id) == (user_did(A, "alice"), B)
        assert list(first.stored_claims) == ["age_over_18", "name"] and not first.already_linked
        assert first.peer_process_id.startswith(f"mmm://{B}/processes/user/linked-")
        files = _linked_files(negotiated)
        assert len(files) == 1
        stored = json.loads(files[0].read_text())
        assert stored["claims"] == {"name": "Alice Liddell", "age_over_18": True}
        assert (stored["did"], stored["home"], stored["process_id"]) == (first.did, A, first.peer_process_id)
        seen = _b_identity_bytes(negotiated)
        for never in (born.encode(), b"fr-FR", b"av1", b"age_over_21", b"age_over_13", b"birthdate"):
            assert never not in seen, never

        again = await _migrate(home, ALICE, "age_over_18", "name")
        assert again.peer_process_id == first.peer_process_id and again.already_linked
        assert len(_linked_files(negotiated)) == 1
    links = _home_store(negotiated).links("alice")
    assert links == {
        B: {
            "process_id": first.peer_process_id,
            "disclosed": ["age_over_18", "name"],
            "linked_at_s": links[B]["linked_at_s"],
            "version": 1,
            "credential": credential_digest(_home_store(negotiated).credential("alice")),  # the one b holds
        }
    }
    audit = await negotiated.nodes["gateway-b"].audit.entries(peer_id=A)
    assert [e.event for e in audit if (e.details or {}).get("rpc") == "PresentIdentity"] == ["ACCEPTED"] * 2


async def test_idir_303_eligibility_refusals_name_their_rule_and_store_nothing(negotiated: Federation) -> None:
    """kit is 16: ELIGIBILITY_AGE, rule age_over_18 (disclosed and false); alice without name:
    ELIGIBILITY_CLAIM_MISSING, rule required:name; a claim the credential lacks:
    DISCLOSE_UNKNOWN_CLAIM. a's gateway reads b's rules from the negotiated manifesto, so none of
    these sends b anything (kit's name included)."""
    _issue(negotiated, "kit", name="Kit", years=16)
    _issue(negotiated, "alice", name="Alice", years=30)
    async with _operator(negotiated) as home:
        err = await refused(
            _migrate(home, KIT, "name", "age_over_18"),
            DENIED,
            "ELIGIBILITY_AGE",
            "age_over_18 is false",
            "nothing was sent",
        )
        assert dict(error_info(err).metadata)["rule"] == "age_over_18"  # type: ignore[union-attr]
        err = await refused(_migrate(home, ALICE, "age_over_18"), DENIED, "ELIGIBILITY_CLAIM_MISSING", "'name'")
        assert dict(error_info(err).metadata)["rule"] == "required:name"  # type: ignore[union-attr]
        await refused(_migrate(home, ALICE, "name", "shoe_size"), INVALID, "DISCLOSE_UNKNOWN_CLAIM", "shoe_size")
    assert _linked_files(negotiated) == []
    assert _home_store(negotiated).links("kit") == {}
    audit = await negotiated.nodes["gateway-b"].audit.entries(peer_id=A)
    assert [e for e in audit if (e.details or {}).get("rpc") == "PresentIdentity"] == []  # b saw nothing


async def test_idir_303_b_applies_its_manifesto_as_it_is_now(negotiated: Federation) -> None:
    """b's manifesto requires languages too after the negotiation (a still knows the old rule and
    sends): b's gateway refuses ELIGIBILITY_CLAIM_MISSING, rule required:languages, by its
    current manifesto, and stores nothing."""
    _issue(negotiated, "alice", name="Alice", years=30)
    node_b = negotiated.nodes["instance-b"]
    node_b.manifesto.policies.update({"identity.required_claims": "name, languages"})
    await node_b.register_manifesto()
    async with _operator(negotiated) as home:
        err = await refused(_migrate(home, ALICE, "name", "age_over_18"), DENIED, "ELIGIBILITY_CLAIM_MISSING")
        assert dict(error_info(err).metadata)["rule"] == "required:languages"  # type: ignore[union-attr]
        linked = await _migrate(home, ALICE, "name", "age_over_18", "languages")
        assert list(linked.stored_claims) == ["age_over_18", "languages", "name"]
    audit = await negotiated.nodes["gateway-b"].audit.entries(peer_id=A)
    reasons = [e.reason or e.event for e in audit if (e.details or {}).get("rpc") == "PresentIdentity"]
    assert reasons == ["ELIGIBILITY_CLAIM_MISSING", "ACCEPTED"]


async def _nonce(fed: Federation) -> str:
    stub = fed.nodes["gateway-a"].channels.identity_peer(B)  # a's gateway, its own certificate
    answer = await stub.GetNonce(ipb.GetIdentityNonceRequest())
    assert answer.audience == B
    return str(answer.nonce)


async def _present_as_a(fed: Federation, presentation: str, did: str) -> Any:
    stub = fed.nodes["gateway-a"].channels.identity_peer(B)
    return await stub.PresentIdentity(ipb.PresentIdentityRequest(presentation=presentation, did=did))


async def test_fgmv43_9_4_step_3_tampered_replayed_misaddressed_and_revoked_presentations_are_refused(
    negotiated: Federation,
) -> None:
    """Presentations built as a's gateway builds them, sent over RE-4 with a's gateway
    certificate: a forged Disclosure (DISCLOSURE_TAMPERED), a KB-JWT for another M-Instance
    (AUDIENCE_MISMATCH), a nonce used twice (PRESENTATION_REPLAYED), a nonce b never gave
    (NONCE_UNKNOWN), a credential a revoked (CREDENTIAL_REVOKED); b stores nothing."""
    _issue(negotiated, "kit", name="Kit", years=16)
    _issue(negotiated, "alice", name="Alice", years=30)
    store = _home_store(negotiated)
    kit_did, alice_did = user_did(A, "kit"), user_did(A, "alice")

    def shown(user: str, nonce: str, *, audience: str = B, claims: tuple[str, ...] = ("name", "age_over_18")) -> SdJwt:
        return present(
            store.credential(user),
            disclose=claims,
            audience=audience,
            nonce=nonce,
            holder_key=store.held_key(user),
            iat_s=int(time.time()),
        )

    # kit is 16: swap his age_over_18 Disclosure for one saying true, and bind it properly
    nonce = await _nonce(negotiated)
    honest = shown("kit", nonce, claims=("name",))
    forged = SdJwt(honest.issuer_jwt, (*honest.disclosures, make_disclosure("age_over_18", True).encoded))
    rebound = present(
        forged,
        disclose=("name", "age_over_18"),
        audience=B,
        nonce=nonce,
        holder_key=store.held_key("kit"),
        iat_s=int(time.time()),
    )
    await refused(_present_as_a(negotiated, rebound.serialize(), kit_did), INVALID, "DISCLOSURE_TAMPERED")

    await refused(
        _present_as_a(
            negotiated, shown("alice", await _nonce(negotiated), audience="c.example").serialize(), alice_did
        ),
        INVALID,
        "AUDIENCE_MISMATCH",
        "c.example",
    )
    await refused(
        _present_as_a(negotiated, shown("alice", "not-a-nonce-of-b").serialize(), alice_did), INVALID, "NONCE_UNKNOWN"
    )

    # kit's honest presentation is refused on eligibility, after its nonce was used: sent again, a replay
    once = shown("kit", await _nonce(negotiated)).serialize()
    await refused(_present_as_a(negotiated, once, kit_did), DENIED, "ELIGIBILITY_AGE")
    await refused(_present_as_a(negotiated, once, kit_did), INVALID, "PRESENTATION_REPLAYED")

    # a presentation of alice's credential under kit's DID
    await refused(
        _present_as_a(negotiated, shown("alice", await _nonce(negotiated)).serialize(), kit_did),
        INVALID,
        "SUBJECT_MISMATCH",
    )

    # a revokes alice's credential: b reads a's status list over RE-4 and refuses
    idx = read_jws(store.credential("alice").issuer_jwt, reason="X").payload["status"]["status_list"]["idx"]
    store.revoke(idx)
    async with _operator(negotiated) as home:
        await refused(_migrate(home, ALICE, "name", "age_over_18"), FAILED, "CREDENTIAL_REVOKED")
    assert _linked_files(negotiated) == []


async def test_re4_presentations_name_users_of_the_calling_peer_and_need_an_agreement(federation: Federation) -> None:
    """Without a trust agreement a's gateway refuses NO_AGREEMENT before anything leaves; b
    refuses a DID of another M-Instance from a (ORIGIN_MISMATCH)."""
    _issue(federation, "alice", name="Alice", years=30)
    async with _operator(federation) as home:
        await refused(_migrate(home, ALICE, "name", "age_over_18"), FAILED, "NO_AGREEMENT")
        await refused(
            home.MigrateIdentity(ipb.MigrateIdentityRequest(process_id=ALICE, peer_m_instance_id=A)),
            INVALID,
            "BAD_PEER",
        )
    await refused(_present_as_a(federation, "x~", f"did:web:{B}:users:bob"), DENIED, "ORIGIN_MISMATCH")
    assert _linked_files(federation) == []


async def test_idir_204_unlink_deletes_the_disclosed_data_at_b_and_the_home_keeps_a_signed_receipt(
    negotiated: Federation,
) -> None:
    """After unlink, b holds no file and no claim of alice; the receipt at home is b's
    (did:web:b.example key), names what was deleted, verifies with b's published key; unlinking
    again is NOT_LINKED; migrating again gives the same Process as before."""
    _issue(negotiated, "alice", name="Alice Liddell", years=30)
    async with _operator(negotiated) as home:
        linked = await _migrate(home, ALICE, "name", "age_over_18")
        done = await home.UnlinkIdentity(ipb.UnlinkIdentityRequest(process_id=ALICE, peer_m_instance_id=B))
        assert _linked_files(negotiated) == []
        assert b"Alice Liddell" not in _b_identity_bytes(negotiated)
        assert list(done.deleted_claims) == ["age_over_18", "name"] and done.peer_process_id == linked.peer_process_id
        assert (_text(done.receipt_path) or "").strip() == done.receipt_jws
        assert (
            Path(done.receipt_path).parent
            == negotiated.plan.gateway_a.data_dir / "identity" / "users" / "alice" / "receipts"
        )
        b_keys = InstanceKeyStore(negotiated.plan.gateway_b.data_dir / "keys", B)
        by_kid = {b_keys.method(r): r.public_key for r in b_keys.records()}
        receipt = verify_receipt(
            done.receipt_jws, destination=B, home=A, did=linked.did, key_of=lambda kid, _iat: by_kid[kid]
        )
        assert receipt.payload["deleted_claims"] == ["age_over_18", "name"]
        assert receipt.payload["process_id"] == linked.peer_process_id
        assert _home_store(negotiated).links("alice") == {}

        await refused(
            home.UnlinkIdentity(ipb.UnlinkIdentityRequest(process_id=ALICE, peer_m_instance_id=B)),
            grpc.StatusCode.NOT_FOUND,
            "NOT_LINKED",
        )
        back = await _migrate(home, ALICE, "name", "age_over_18")
        assert back.peer_process_id == linked.peer_process_id and not back.already_linked


async def test_re4_unlink_needs_the_users_signature(negotiated: Federation) -> None:
    """A peer unlink request not signed by the user's key is UNLINK_REQUEST_INVALID; the link stays."""
    _issue(negotiated, "alice", name="Alice", years=30)
    async with _operator(negotiated) as home:
        await _migrate(home, ALICE, "name", "age_over_18")
    stub = negotiated.nodes["gateway-a"].channels.identity_peer(B)
    request = ipb.PeerUnlinkIdentityRequest(did=user_did(A, "alice"), request_jws="a.b.c")
    await refused(stub.UnlinkIdentity(request), INVALID, "UNLINK_REQUEST_INVALID")
    assert len(_linked_files(negotiated)) == 1


async def _cli_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = await mmmfed(*args, "--json")
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


async def test_cli_identity_migrate_show_unlink(negotiated: Federation, tmp_path: Path) -> None:
    """`mmmfed identity issue`, `migrate --to b.example --disclose name,age_over_18`, `show` (the
    link), `unlink --from b.example` (the receipt), `show` (the receipt kept); mistakes exit 2
    with one reason."""
    config = tmp_path / "gateway-a.json"
    config.write_text(negotiated.plan.gateway_a.model_dump_json())
    tls = negotiated.plan.operators[A]
    op = ["--config", str(config), "--cert", str(tls.cert), "--key", str(tls.key)]
    code, issued = await _cli_json("identity", "issue", ALICE, "--config", str(config), "--birthdate", "1990-04-01")
    assert code == 0, issued
    code, migrated = await _cli_json("identity", "migrate", ALICE, "--to", B, "--disclose", "name,age_over_18", *op)
    assert code == 0, migrated
    assert migrated["stored_claims"] == ["age_over_18", "name"] and migrated["already_linked"] is False
    assert (migrated["admission"], migrated["account_type"]) == ("admit", "Linked") and migrated["rights"]
    code, shown = await _cli_json("identity", "show", ALICE, "--config", str(config))
    assert code == 0 and shown["links"][B]["process_id"] == migrated["peer_process_id"], shown
    code, unlinked = await _cli_json("identity", "unlink", ALICE, "--from", B, *op)
    assert code == 0, unlinked
    assert unlinked["receipt"]["iss"] == f"did:web:{B}" and unlinked["receipt"]["kid"].startswith(f"did:web:{B}#")
    assert unlinked["deleted_claims"] == ["age_over_18", "name"] and _text(unlinked["receipt_path"])
    code, shown = await _cli_json("identity", "show", ALICE, "--config", str(config))
    assert code == 0 and shown["links"] == {}
    assert [r["jws"] for r in shown["receipts"]] == [unlinked["receipt_jws"]]
    plain = await mmmfed("identity", "show", ALICE, "--config", str(config))
    assert plain.returncode == 0 and f"receipt of deletion from did:web:{B}" in plain.stdout, plain.stderr

    code, err = await _cli_json("identity", "migrate", ALICE, "--to", B, "--disclose", "name,shoe_size", *op)
    assert (code, err["error"]) == (2, "DISCLOSE_UNKNOWN_CLAIM") and "shoe_size" in err["message"]
    code, err = await _cli_json("identity", "unlink", ALICE, "--from", B, *op)
    assert (code, err["error"]) == (2, "NOT_LINKED")
    bad = await mmmfed("identity", "migrate", ALICE, "--to", "nowhere.example", "--disclose", "name", *op)
    assert bad.returncode == 2 and "UNKNOWN_PEER" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr


@pytest.mark.parametrize("claims", [("name",)])
async def test_a_presentation_to_b_never_carries_an_undisclosed_claim(
    negotiated: Federation, claims: tuple[str, ...]
) -> None:
    """What a's gateway sends over RE-4 holds only the Disclosures chosen (checked on the bytes
    of the presentation itself): b refuses it for lack of age_over_18, having seen only name."""
    born = _issue(negotiated, "alice", name="Alice", years=30)
    store = _home_store(negotiated)
    nonce = await _nonce(negotiated)
    shown = present(
        store.credential("alice"),
        disclose=claims,
        audience=B,
        nonce=nonce,
        holder_key=store.held_key("alice"),
        iat_s=int(time.time()),
    )
    assert len(shown.disclosures) == 1 and born not in shown.serialize()
    await refused(
        _present_as_a(negotiated, shown.serialize(), user_did(A, "alice")), DENIED, "ELIGIBILITY_AGE", "not disclosed"
    )


async def test_ivdf_a_rotated_issuer_key_still_verifies_what_it_signed_and_a_compromised_one_nothing(
    negotiated: Federation,
) -> None:
    """a rotates its key after issuing alice's credential: b still admits it (the old key was
    valid when it signed); once a revokes that key as compromised, b refuses ISSUER_KEY_REVOKED
    (it reads a's key set afresh for each presentation) and stores nothing."""
    _issue(negotiated, "alice", name="Alice", years=30)
    keys = InstanceKeyStore(negotiated.plan.gateway_a.data_dir / "keys", A)
    old, _ = keys.current()
    # key validity changes on whole seconds (mmmfed.keys.now_ms): rotating in the second the key
    # was made would leave it valid for no second at all
    await asyncio.sleep(1.1)
    keys.rotate()
    async with _operator(negotiated) as home:
        linked = await _migrate(home, ALICE, "name", "age_over_18")
        assert list(linked.stored_claims) == ["age_over_18", "name"]
        await home.UnlinkIdentity(ipb.UnlinkIdentityRequest(process_id=ALICE, peer_m_instance_id=B))
        keys.revoke(old.key_id)
        await refused(_migrate(home, ALICE, "name", "age_over_18"), FAILED, "ISSUER_KEY_REVOKED")
    assert _linked_files(negotiated) == []


async def _author_message(fed: Federation, process_id: str) -> Any:
    """b's operator asks b's engine (Instance.Act) for ``process_id`` to Author a Message Item."""
    assert fed.at_b is not None
    local = f"msg-{time.time_ns()}"
    message = item_doc(
        m_instance_id=B,
        item_id=f"mmm://{B}/messages/{local}",
        item_type="ITM",
        sub_type="Message",
        producer_id=process_id,
        time_ms=int(time.time() * 1000),
        fields={"Content": {"Text": "hello from a linked identity"}},
    )
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.AUTHOR,
        process_id,
        process_id,
        complements(nil=message["ItemID"]),
        int(time.time() * 1000),
        None,
        process_action_id=f"mmm://{B}/pa/{local}",
        items=(message,),
    )
    reply = await fed.at_b.instance.Act(ActRequest(request=request_to_proto(request)))
    return response_from_proto(reply).status


def _pa_code(status: Any) -> str:
    return status.error.value if status.error is not None else status.kind.value


async def test_fgmv43_9_4_step_4_an_admitted_identity_is_a_process_at_b_with_the_rights_its_admission_gives(
    negotiated: Federation,
) -> None:
    """b restricts an identity whose reputation counts a report (identity.reputation.restrict_reports
    = 0): alice, with one, becomes a User Process of b's World linked to her DID, Account type
    LinkedRestricted, and b's engine answers InsRights when she Authors an Item; bob, without
    one, is a full Linked User and Authors it (Ack). alice arriving again once b lifts the rule
    is the same Process, now with the full Rights, and Authors it."""
    node_b = negotiated.nodes["instance-b"]
    node_b.manifesto.policies.update({"identity.reputation.restrict_reports": "0"})
    await node_b.register_manifesto()
    _issue(negotiated, "alice", name="Alice Liddell", years=30, reports=1)
    _issue(negotiated, "bob", name="Bob", years=40)
    world = node_b.process_actions.world
    async with _operator(negotiated) as home:
        alice = await _migrate(home, ALICE, "name", "age_over_18", "reputation")
        bob = await _migrate(home, f"mmm://{A}/processes/user/bob", "name", "age_over_18")
        for linked in (alice, bob):
            process = world.processes[linked.peer_process_id]
            assert process.type is ProcessType.USER and world.acts_here(linked.peer_process_id)
        assert world.processes[alice.peer_process_id].account_type == "LinkedRestricted"
        assert world.processes[bob.peer_process_id].account_type == "Linked"
        assert (alice.admission, alice.account_type, bob.admission, bob.account_type) == (
            "restricted",
            "LinkedRestricted",
            "admit",
            "Linked",
        )  # the home learns what b granted
        assert "Author" in bob.rights and "Author" not in alice.rights and "MM-Add" in alice.rights
        assert negotiated.at_b is not None
        users = {u.process_id: u for u in (await negotiated.at_b.instance.ListUsers(ListUsersRequest())).users}
        assert (users[alice.peer_process_id].kind, users[alice.peer_process_id].home_m_instance_id) == (
            "linked identity",
            A,
        )
        row = node_b.linked_identities.get(alice.peer_process_id)
        assert row is not None and (row.did, row.home, row.admission) == (user_did(A, "alice"), A, "restricted")
        assert set(row.claims) == {"name", "age_over_18", "reputation"}

        refused_status = await _author_message(negotiated, alice.peer_process_id)
        assert _pa_code(refused_status) == "InsRights", refused_status.reason
        assert _pa_code(await _author_message(negotiated, bob.peer_process_id)) == "Ack"

        node_b.manifesto.policies.pop("identity.reputation.restrict_reports")
        await node_b.register_manifesto()
        again = await _migrate(home, ALICE, "name", "age_over_18", "reputation")
        assert again.peer_process_id == alice.peer_process_id and again.already_linked
        assert world.processes[alice.peer_process_id].account_type == "Linked"
        assert _pa_code(await _author_message(negotiated, alice.peer_process_id)) == "Ack"


def _instance_b_bytes(fed: Federation) -> bytes:
    """b.example's M-Instance database as SQL (every table's rows) and as the bytes of its files."""
    database = fed.plan.instance_b.data_dir / "m-instance.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as db:
        dump = "\n".join(db.iterdump()).encode()
    files = [database, database.with_name(database.name + "-wal")]
    return dump + b"".join(p.read_bytes() for p in files if p.exists())


async def test_idir_204_unlink_removes_the_process_its_rights_and_its_claims_from_bs_m_instance(
    negotiated: Federation,
) -> None:
    """After unlink, b's World holds no Process, Device or Right of alice's linked identity, and
    b's M-Instance database (its rows and its files) holds neither her name nor her DID; the
    receipt still reaches home. Migrating again makes the same Process anew."""
    _issue(negotiated, "alice", name="Alice Pleasance Liddell", years=30)
    node_b = negotiated.nodes["instance-b"]
    world = node_b.process_actions.world
    did = user_did(A, "alice").encode()
    async with _operator(negotiated) as home:
        linked = await _migrate(home, ALICE, "name", "age_over_18")
        pid = linked.peer_process_id
        assert pid in world.processes and world.rights_of(pid)
        assert b"Alice Pleasance Liddell" in _instance_b_bytes(negotiated)
        done = await home.UnlinkIdentity(ipb.UnlinkIdentityRequest(process_id=ALICE, peer_m_instance_id=B))
        assert done.receipt_jws and list(done.deleted_claims) == ["age_over_18", "name"]
        assert pid not in world.processes and f"{pid}-device" not in world.processes
        assert world.rights_of(pid) == [] and world.rights_of(f"{pid}-device") == []
        assert node_b.linked_identities.get(pid) is None
        held = _instance_b_bytes(negotiated)
        assert b"Alice Pleasance Liddell" not in held and did not in held
        assert _pa_code(await _author_message(negotiated, pid)) == "IncID"

        back = await _migrate(home, ALICE, "name", "age_over_18")
        assert back.peer_process_id == pid and pid in world.processes and not back.already_linked


def _persona(fmt: str, triangles: int, textures: str = "image/jpeg", px: int = 256) -> dict[str, Any]:
    """An avatar claim as a's credential carries it: the Persona's id and Qualifier facts."""
    return {
        "ItemID": f"mmm://{A}/personae/alice-{fmt.replace('/', '-')}-{triangles}",
        "Format": fmt,
        "Attributes": {"Triangles": str(triangles), "TextureFormats": textures, "MaxTexturePx": str(px)},
    }


async def test_idir_303_appearance_an_avatar_outside_bs_accepted_personae_is_refused_naming_the_rule(
    negotiated: Federation,
) -> None:
    """b's manifesto sets identity.appearance=accepts: an avatar disclosed must be a Persona b
    accepts (glTF binary, at most 1,500 triangles, JPEG textures up to 512 px, as its accepts row
    says). Too many triangles: ELIGIBILITY_APPEARANCE, rule appearance:max_triangles:1500; a VRM:
    rule appearance:format; PNG textures: rule appearance:texture_formats:image/jpeg; a bare
    reference: rule appearance:qualifier; each stores nothing. An avatar within the limits is
    admitted with it; not disclosing avatars is not refused by this rule."""
    node_b = negotiated.nodes["instance-b"]
    node_b.manifesto.policies.update({"identity.appearance": "accepts"})
    await node_b.register_manifesto()
    glb = "glTF/2.0-binary"
    cases = [
        ((_persona(glb, 5000),), "appearance:max_triangles:1500", "5000 triangles > 1500"),
        ((_persona("VRM/1.0", 800),), "appearance:format", "VRM/1.0"),
        ((_persona(glb, 800, textures="image/png"),), "appearance:texture_formats:image/jpeg", "image/png"),
        ((f"mmm://{A}/items/av1",), "appearance:qualifier", "no Qualifier"),
    ]
    async with _operator(negotiated) as home:
        for avatars, rule, said in cases:
            _issue(negotiated, "alice", name="Alice", years=30, avatars=avatars)
            err = await refused(
                _migrate(home, ALICE, "name", "age_over_18", "avatars"), DENIED, "ELIGIBILITY_APPEARANCE", said
            )
            assert dict(error_info(err).metadata)["rule"] == rule  # type: ignore[union-attr]
            assert _linked_files(negotiated) == [] and node_b.linked_identities.process_ids() == set()

        fits = _persona(glb, 800)
        _issue(negotiated, "alice", name="Alice", years=30, avatars=(_persona("VRM/1.0", 800), fits))
        await refused(_migrate(home, ALICE, "name", "age_over_18", "avatars"), DENIED, "ELIGIBILITY_APPEARANCE")
        linked = await _migrate(home, ALICE, "name", "age_over_18")  # avatars not disclosed: not judged
        assert list(linked.stored_claims) == ["age_over_18", "name"]
        _issue(negotiated, "alice", name="Alice", years=30, avatars=(fits,))
        linked = await _migrate(home, ALICE, "name", "age_over_18", "avatars")
        assert list(linked.stored_claims) == ["age_over_18", "avatars", "name"]
        row = node_b.linked_identities.get(linked.peer_process_id)
        assert row is not None and row.claims["avatars"] == [fits]
    audit = await negotiated.nodes["gateway-b"].audit.entries(peer_id=A)
    reasons = [e.reason or e.event for e in audit if (e.details or {}).get("rpc") == "PresentIdentity"]
    assert reasons == ["ELIGIBILITY_APPEARANCE"] * 5 + ["ACCEPTED"] * 2


async def test_idir_303_cli_issue_reads_each_avatars_qualifier_from_the_m_instance(
    negotiated: Federation, tmp_path: Path, good_glb: bytes
) -> None:
    """`identity issue --avatar PERSONA_ID --cert --key` carries each Persona a.example holds with
    its Qualifier: Godette (VRM 0.x) is refused by b's appearance rule, rule appearance:format (b
    accepts glTF binary only); a box model converted to fit b is admitted with it.
    --cert without --key, and an avatar a.example does not hold, exit 2 with one reason."""
    assert negotiated.at_a is not None
    node_b = negotiated.nodes["instance-b"]
    node_b.manifesto.policies.update({"identity.appearance": "accepts"})
    await node_b.register_manifesto()
    fitting = tmp_path / "fits-b.glb"
    fitting.write_bytes(good_glb)
    config = tmp_path / "gateway-a.json"
    config.write_text(negotiated.plan.gateway_a.model_dump_json())
    tls = negotiated.plan.operators[A]
    op = ["--cert", str(tls.cert), "--key", str(tls.key)]
    outcomes = {}
    async with _operator(negotiated) as home:
        for human, model in (("godette", GODETTE), ("fitter", fitting)):
            registered = await negotiated.at_a.register_human(human, model)
            user = registered.user_process_id
            persona = parse_item(registered.persona.item_json).item_id
            code, issued = await _cli_json(
                "identity",
                "issue",
                user,
                "--config",
                str(config),
                "--birthdate",
                "1990-04-01",
                "--avatar",
                persona,
                *op,
            )
            assert code == 0 and "avatars" in issued["claims"], issued
            try:
                outcomes[human] = await _migrate(home, user, "name", "age_over_18", "avatars")
            except grpc.aio.AioRpcError as err:
                outcomes[human] = err
    godette = outcomes["godette"]
    assert isinstance(godette, grpc.aio.AioRpcError) and godette.code() == DENIED
    info = error_info(godette)
    assert info is not None and info.reason == "ELIGIBILITY_APPEARANCE" and "VRM/0.x" in (godette.details() or "")
    assert dict(info.metadata)["rule"] == "appearance:format"
    fitter = outcomes["fitter"]
    assert not isinstance(fitter, grpc.aio.AioRpcError)
    row = node_b.linked_identities.get(fitter.peer_process_id)
    assert row is not None
    (shown,) = row.claims["avatars"]
    assert shown["Format"] == "glTF/2.0-binary" and shown["Length"] == len(good_glb)
    assert int(shown["Attributes"]["Triangles"]) <= 1500

    half = await mmmfed(
        "identity", "issue", ALICE, "--config", str(config), "--birthdate", "1990-04-01", "--cert", str(tls.cert)
    )
    assert half.returncode == 2 and "OPTION_MISSING" in half.stderr and "Traceback" not in half.stderr
    code, err = await _cli_json(
        "identity",
        "issue",
        ALICE,
        "--config",
        str(config),
        "--birthdate",
        "1990-04-01",
        "--avatar",
        f"mmm://{A}/items/none",
        *op,
    )
    assert code == 2 and err["error"] == "ITEM_NOT_FOUND", err


async def test_fgmv43_9_4_step_4_no_process_at_b_without_its_link_when_bs_gateway_holds_no_more(
    negotiated: Federation,
) -> None:
    """b's gateway holds at most one link from a here: alice is linked and is a Process of b;
    bob is refused RESOURCE_EXHAUSTED LINKED_IDENTITIES_FULL before b's instance makes him one."""
    negotiated.nodes["gateway-b"].identity_import.linked.max_per_home = 1
    _issue(negotiated, "alice", name="Alice", years=30)
    _issue(negotiated, "bob", name="Bob", years=40)
    world = negotiated.nodes["instance-b"].process_actions.world
    async with _operator(negotiated) as home:
        alice = await _migrate(home, ALICE, "name", "age_over_18")
        await refused(
            _migrate(home, f"mmm://{A}/processes/user/bob", "name", "age_over_18"),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "LINKED_IDENTITIES_FULL",
        )
        again = await _migrate(home, ALICE, "name", "age_over_18")  # a link held already is no new one
        assert again.already_linked
    linked_here = {p for p in world.processes if "/processes/user/linked-" in p and not p.endswith("-device")}
    assert linked_here == {alice.peer_process_id}
    assert negotiated.nodes["instance-b"].linked_identities.process_ids() == {alice.peer_process_id}
