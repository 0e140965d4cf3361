"""A User roaming at the visited M-Instance acts there in person (FGMV-43 9.1 step 4 with 9.3
steps 5-7, IDIR-103, COIR-302): the owner of a migrated content, whose avatar migrated to
b.example, edits the content at b under the Rights its ICapabilities gave; the new version
reaches home. A User of a.example who never arrived at b is not a Process there (IncID)."""

from __future__ import annotations

import asyncio
import time

import grpc
from sample_assets import GODETTE, needs_samples

from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc
from mmmfed.cli.inprocess import Federation
from mmmfed.config import PeerAddress
from mmmfed.errors import MmmfedError
from mmmfed.items import domain_doc
from mmmfed.rpc import call
from mmmfed.tls import secure_channel

pytestmark = needs_samples
A, B = "a.example", "b.example"
NOTE = b"# Notes\n\nfirst line\n"


def _content(fed: Federation, m: str) -> grpc.aio.Channel:
    cfg = fed.plan.instance_a if m == A else fed.plan.instance_b
    return secure_channel(fed.plan.operator_for(cfg), PeerAddress(tls_name=cfg.tls_name, address=cfg.listen))


async def test_idir103_a_roaming_owner_edits_its_content_at_the_visited_m_instance(negotiated: Federation) -> None:
    assert negotiated.at_a is not None
    alice = (await negotiated.at_a.register_human("alice", GODETTE)).user_process_id
    carol = (await negotiated.at_a.register_human("carol", GODETTE)).user_process_id
    arrived = await negotiated.at_a.migrate(alice, B)
    assert arrived.peer_persona.item_json, arrived  # alice's avatar is at b: she roams there
    async with _content(negotiated, A) as ch_a, _content(negotiated, B) as ch_b:
        at_a, at_b = content_pb2_grpc.ContentStub(ch_a), content_pb2_grpc.ContentStub(ch_b)
        published = await at_a.PublishContent(
            cpb.PublishContentRequest(
                owner_process_id=alice,
                parts=[cpb.ContentPartData(path="notes.md", data=NOTE)],
                title="Notes",
                licence="CC-BY-4.0",
            )
        )
        content_id = domain_doc(published.item.item_json)["ItemID"]
        await at_a.MigrateContent(cpb.MigrateContentRequest(content_id=content_id, peer_m_instance_id=B))
        edit = cpb.ContentPartData(path="notes.md", data=NOTE + b"written at b\n")
        version = await at_b.UpdateContent(cpb.UpdateContentRequest(content_id=content_id, parts=[edit]))
        assert version.author_process_id == alice
        deadline = time.monotonic() + 20
        while True:  # the version made at b reaches home
            history = await at_a.ContentHistory(cpb.ContentHistoryRequest(content_id=content_id))
            if list(history.head_ids) == [version.version_id]:
                break
            assert time.monotonic() < deadline, "the version made at b did not reach a"
            await asyncio.sleep(0.1)
        got = await at_a.GetContent(cpb.GetContentRequest(content_id=content_id))
        assert got.parts[0].data == NOTE + b"written at b\n"

        # carol never arrived at b: b's engine does not take her requests (IncID), nothing changes.
        request = cpb.UpdateContentRequest(content_id=content_id, author_process_id=carol, parts=[edit])
        try:
            await call(lambda: at_b.UpdateContent(request), attempts=1)
            raise AssertionError("b took an edit from a Process that is not there")
        except MmmfedError as err:
            assert err.reason in {"USER_NOT_FOUND", "CONTENT_REFUSED"}, err
        history_b = await at_b.ContentHistory(cpb.ContentHistoryRequest(content_id=content_id))
        assert list(history_b.head_ids) == [version.version_id]
