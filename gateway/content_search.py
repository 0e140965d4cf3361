"""Searching peers' contents through the MIFM (ITU FGMV-43 9.3, COIR-101/105): the gateway's part,
RI-3 towards its own M-Instance and RE-3 towards peers' gateways.

Asking side (:meth:`ContentSearch.search_peers`): the own M-Instance's query goes to every
configured peer whose trust agreement is active and covers contents (Action ``Post`` on ``ITM``
Items), all at once, each with :data:`PEER_TIMEOUT_S`. Each hit's Item must be a content of that
peer signed by its gateway (the verification pipeline of foreign Items); a hit that is not is
dropped and its peer named in ``failures`` (``HIT_REFUSED`` and the pipeline's reason), as is a
peer that errs or is slow (its reason, or ``PEER_TIMEOUT``). A peer never fails the search, and
at most ``query.limit`` hits are taken from each.

Answering side (:meth:`ContentSearch.answer`): the caller is the peer (mTLS); its agreement must
cover contents; the query is checked (``CONTENT_QUERY_INVALID``); the M-Instance answers with
what it shares with that peer only (RI-3 ContentExchange.SearchShared), and the gateway signs
each hit's Item with the M-Instance key (it signs only what its own M-Instance holds: each hit
must be a content whose home is this M-Instance). Searches are not audited: they change nothing.
"""

from __future__ import annotations

import asyncio

from gateway.agreements import CONTENT_ACTION, CONTENT_TYPE, AgreementBook
from gateway.channels import Channels
from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.content.item import is_content
from mmmfed.content.query import ContentQuery
from mmmfed.errors import FailedPrecondition, MmmfedError
from mmmfed.items import instance_or_none, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call

PEER_TIMEOUT_S = 5.0
MAX_PEERS = 64


class ContentSearch:
    """Both sides of a content search for one gateway (module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        agreements: AgreementBook,
        *,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements
        self._keys = keys
        self._verifier = verifier

    async def _covers_contents(self, peer: str) -> bool:
        try:
            await self._agreements.require_active(peer, item_type=CONTENT_TYPE, action=CONTENT_ACTION)
        except MmmfedError:
            return False
        return True

    # -- asking side ----------------------------------------------------------------------
    async def search_peers(self, request: cpb.SearchContentsRequest) -> cpb.SearchContentsResponse:
        """Every agreed peer's hits for ``request.query`` (module docstring). InvalidInput
        ``CONTENT_QUERY_INVALID`` before any peer is asked."""
        query = ContentQuery.of_message(request.query)
        peers = [p for p in sorted(self._channels.peers)[:MAX_PEERS] if await self._covers_contents(p)]
        outward = cpb.SearchContentsRequest(query=request.query)
        outward.query.limit = query.limit
        answers = await asyncio.gather(*(self._ask(peer, outward) for peer in peers))
        result = cpb.SearchContentsResponse()
        for hits, failures in answers:
            result.hits.extend(hits)
            result.failures.extend(failures)
        return result

    async def _ask(
        self, peer: str, request: cpb.SearchContentsRequest
    ) -> tuple[list[cpb.ContentHit], list[cpb.PeerSearchFailure]]:
        stub = self._channels.peer(peer)
        try:
            answer: cpb.SearchContentsResponse = await asyncio.wait_for(
                call(lambda: stub.SearchContents(request, timeout=PEER_TIMEOUT_S), attempts=1), PEER_TIMEOUT_S + 1
            )
        except TimeoutError:
            return [], [_failure(peer, "PEER_TIMEOUT", f"{peer} did not answer within {PEER_TIMEOUT_S:g} s")]
        except MmmfedError as err:
            return [], [_failure(peer, err.reason, err.message)]
        hits: list[cpb.ContentHit] = []
        failures: list[cpb.PeerSearchFailure] = []
        for hit in answer.hits[: request.query.limit]:
            try:
                item = await self._verifier.verify_persona(hit.content.item.item_json, peer_id=peer, bridge_keys={})
                if not is_content(item.doc) or instance_or_none(item.item_id) != peer:
                    raise FailedPrecondition(f"{item.item_id[:200]} is not a content of {peer}", reason="NOT_CONTENT")
                if instance_or_none(hit.content.owner_process_id) != peer:
                    raise FailedPrecondition(
                        f"owner {hit.content.owner_process_id[:200]} is not of {peer}", reason="NOT_CONTENT"
                    )
            except MmmfedError as err:
                failures.append(_failure(peer, "HIT_REFUSED", f"{err.reason}: {err.message}"))
                continue
            hits.append(cpb.ContentHit(m_instance_id=peer, content=hit.content))
        return hits, failures

    # -- answering side -------------------------------------------------------------------
    async def answer(self, request: cpb.SearchContentsRequest, peer: str) -> cpb.SearchContentsResponse:
        """What this M-Instance shares with ``peer`` matching ``request.query``, signed here.
        FailedPrecondition from the agreement check (``NO_AGREEMENT``, ``OUT_OF_AGREEMENT``...),
        InvalidInput ``CONTENT_QUERY_INVALID``."""
        await self._agreements.require_active(peer, item_type=CONTENT_TYPE, action=CONTENT_ACTION)
        ContentQuery.of_message(request.query)
        exchange = self._channels.content_exchange()
        asked = cpb.SearchSharedRequest(peer_m_instance_id=peer, query=request.query)
        found: cpb.SearchContentsResponse = await call(lambda: exchange.SearchShared(asked))
        record, key = self._keys.current()
        method = self._keys.method(record)
        answer = cpb.SearchContentsResponse()
        for hit in found.hits:
            item = parse_item(hit.content.item.item_json)
            if not is_content(item.doc) or instance_or_none(item.item_id) != self._id:
                continue  # only a content whose home is here is signed and answered
            signed = sign_item(item, key=key, verification_method=method).raw
            view = cpb.ContentView(
                item=itpb.ItemEnvelope(item_json=signed), owner_process_id=hit.content.owner_process_id
            )
            answer.hits.append(cpb.ContentHit(m_instance_id=self._id, content=view))
        return answer


def _failure(peer: str, reason: str, message: str) -> cpb.PeerSearchFailure:
    return cpb.PeerSearchFailure(peer_m_instance_id=peer, reason=reason, message=message[:500])
