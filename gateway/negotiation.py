"""Manifesto registration and negotiation, FGMV-43 9.5 (IMFC: MPMF and MBMF).

Offering side (A): fetch B's manifesto, compare feature by feature, add the rows by which
contents B's content policies do not accept reach it through a bridge (9.5 steps 5-9 for 9.3,
:mod:`gateway.content_bridging`), ask a bridge for a virtual bridge for the bridged features,
send offer manifestos A and V, store B's answer manifesto.
Answering side (B): check each offered row against its own platform manifesto (content rows:
its content policies) and the bridge's offer V, and answer with what it accepts.

Manifesto V is used only once verified (issue 12 item 5, gateway/bridge_trust.py): signed by the
bridge's did:key, which its certificate (chaining to the bridge's bundle, for its TLS name) binds.
A refuses a bridge whose manifesto V or offer V does not verify; B refuses a relayed offer V of a
bridge it trusts that does not verify, and treats the bridged rows of a bridge it does not know
as unsupported.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from functools import partial

from gateway.agreements import AgreementBook
from gateway.bridge_trust import BridgeTrust, same_bridge
from gateway.channels import Channels
from gateway.content_rows import check_content_row, content_rows, is_content_row
from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.did import public_key_from_verification_method
from mmmfed.errors import FailedPrecondition, InvalidInput
from mmmfed.formats import lookup
from mmmfed.manifesto import compare, produced_facts, violations
from mmmfed.rpc import call
from mmmfed.store import SharedState

NS_PLATFORM = "manifesto/platform"
NS_ANSWER = "manifesto/answer"
"""The peer's answer to what this gateway offered it (outgoing: what this M-Instance may send)."""
NS_OFFER = "manifesto/offer"
"""This gateway's offers A and V to the peer (outgoing)."""
NS_ANSWERED = "manifesto/answered"
"""This gateway's answer to the peer's offer (incoming: what the peer may send here)."""
NS_OFFERED = "manifesto/offered"
"""The peer's offers A and V to this gateway (incoming)."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class NegotiationService:
    """Holds this gateway's platform manifesto and negotiated answers (in the shared state)."""

    def __init__(
        self,
        m_instance_id: str,
        store: SharedState,
        channels: Channels,
        agreements: AgreementBook,
        *,
        bridge_trust: BridgeTrust,
    ) -> None:
        self._id = m_instance_id
        self._store = store
        self._channels = channels
        self.agreements = agreements
        self._bridges = bridge_trust

    # -- RI-5 ---------------------------------------------------------------------------
    async def register(self, manifesto: mpb.Manifesto) -> str:
        """Store the platform's manifesto (9.5 step 1). InvalidInput ``MANIFESTO_INVALID`` if it
        is not a PLATFORM manifesto issued by this gateway's instance, ``UNKNOWN_FORMAT`` if a
        feature it produces or accepts names a Qualifier Format mmmfed does not know (nothing is
        stored then; a peer's manifesto naming one is only compared, as unsupported)."""
        if manifesto.kind != mpb.MANIFESTO_KIND_PLATFORM or manifesto.issuer_id != self._id:
            raise InvalidInput(f"expected a PLATFORM manifesto issued by {self._id}", reason="MANIFESTO_INVALID")
        if not manifesto.manifesto_id:
            raise InvalidInput("manifesto_id is empty", reason="MANIFESTO_INVALID")
        for section, features in (("produces", manifesto.produces), ("accepts", manifesto.accepts)):
            for index, feature in enumerate(features):
                lookup(feature.qualifier.format, field=f"manifesto.{section}[{index}].qualifier.format")
        await self._store.put_document(NS_PLATFORM, self._id, manifesto.SerializeToString())
        return manifesto.manifesto_id

    async def platform(self) -> mpb.Manifesto:
        """The registered platform manifesto; FailedPrecondition ``MANIFESTO_NOT_REGISTERED``."""
        raw = await self._store.get_document(NS_PLATFORM, self._id)
        if raw is None:
            raise FailedPrecondition(
                f"{self._id} has not registered its manifesto with its gateway yet",
                reason="MANIFESTO_NOT_REGISTERED",
            )
        return mpb.Manifesto.FromString(raw)

    async def registered_id(self) -> str:
        """The id of the registered platform manifesto, or "" if none is registered."""
        raw = await self._store.get_document(NS_PLATFORM, self._id)
        return mpb.Manifesto.FromString(raw).manifesto_id if raw is not None else ""

    async def negotiated(self) -> dict[str, tuple[mpb.Manifesto, mpb.Manifesto]]:
        """peer -> (answer manifesto, offer manifesto V) of the negotiation with it: the one this
        gateway offered if any, else the one it answered (an empty Manifesto where there is none;
        offer V is empty when no bridge was used)."""
        answers = {**await self._store.list_documents(NS_ANSWERED), **await self._store.list_documents(NS_ANSWER)}
        offers = {**await self._store.list_documents(NS_OFFERED), **await self._store.list_documents(NS_OFFER)}
        out = {}
        for peer in sorted(answers.keys() | offers.keys()):
            answer = mpb.Manifesto.FromString(answers[peer]) if peer in answers else mpb.Manifesto()
            offer = gpb.OfferManifestosRequest.FromString(offers[peer]) if peer in offers else None
            out[peer] = (answer, offer.offer_v if offer is not None else mpb.Manifesto())
        return out

    async def answer_for(self, peer_id: str, *, incoming: bool = False) -> mpb.Manifesto:
        """The answer manifesto of the negotiation in one direction (FGMV-43 9.5): by default the
        peer's answer to what this gateway offered (what this M-Instance may send there);
        ``incoming``: this gateway's answer to the peer's offer (what the peer may send here).
        A negotiation each way is kept apart: negotiating b -> a does not replace a -> b.
        FailedPrecondition ``NOT_NEGOTIATED``."""
        raw = await self._store.get_document(NS_ANSWERED if incoming else NS_ANSWER, peer_id)
        if raw is None:
            way = f"{peer_id} offered to {self._id}" if incoming else f"{self._id} offered to {peer_id}"
            raise FailedPrecondition(
                f"no manifesto negotiated in which {way}; run Negotiate first", reason="NOT_NEGOTIATED"
            )
        return mpb.Manifesto.FromString(raw)

    async def bridge_keys(self, peer_id: str, *, incoming: bool = False) -> dict[str, bytes]:
        """did:key verification method -> public key of the bridge keys in offer manifesto V of
        the negotiation with ``peer_id`` in one direction (see :meth:`answer_for`; empty if it
        used no bridge). Only a verified offer V is stored, so these are the keys the bridge's
        certificate binds."""
        raw = await self._store.get_document(NS_OFFERED if incoming else NS_OFFER, peer_id)
        if raw is None:
            return {}
        offer_v = gpb.OfferManifestosRequest.FromString(raw).offer_v
        return {
            k.verification_method: public_key_from_verification_method(k.verification_method)
            for k in offer_v.keys
            if k.verification_method.startswith("did:key:")
        }

    async def peer_policies(self, peer_id: str) -> dict[str, str]:
        """The policies ``peer_id`` published in the negotiation with it (its answer when this
        gateway offered, its offer A when this gateway answered), e.g. ``asset.currency`` and
        ``asset.exchange.<this M-Instance>``; empty if not negotiated (issue 12 item 3)."""
        raw = await self._store.get_document(NS_ANSWER, peer_id)
        if raw is not None:
            answer = mpb.Manifesto.FromString(raw)
            if answer.issuer_id == peer_id:
                return dict(answer.policies)
        raw = await self._store.get_document(NS_OFFERED, peer_id)
        if raw is not None:
            offer_a = gpb.OfferManifestosRequest.FromString(raw).offer_a
            if offer_a.issuer_id == peer_id:
                return dict(offer_a.policies)
        return {}

    # -- offering side (A) -------------------------------------------------------------
    async def negotiate(self, peer_id: str) -> gpb.NegotiateResponse:
        """FGMV-43 9.5 steps 2-8 towards ``peer_id``; stores and returns offers and answer.
        Each bridge's manifesto V and offer V must verify (BridgeIdentityRefused otherwise,
        nothing stored)."""
        mine = await self.platform()
        peer = self._channels.peer(peer_id)
        theirs = await call(lambda: peer.GetManifesto(gpb.GetPeerManifestoRequest()))
        if theirs.issuer_id != peer_id:
            raise InvalidInput(
                f"peer manifesto is issued by {theirs.issuer_id}, not {peer_id}", reason="ORIGIN_MISMATCH"
            )
        conversions: dict[str, list[mpb.ConversionPair]] = {}
        identities = {}
        for bridge_id in sorted(self._channels.bridges):
            stub = self._channels.bridge(bridge_id)
            v = await call(partial(stub.GetManifesto, bpb.GetBridgeManifestoRequest()))
            identities[bridge_id] = self._bridges.verify(v, bridge_id, kind=mpb.MANIFESTO_KIND_BRIDGE)
            conversions[bridge_id] = list(identities[bridge_id].manifesto.conversions)
        table = compare(list(mine.produces), list(theirs.accepts), conversions)
        used = next((r.bridge_id for r in table if r.route == mpb.FEATURE_ROUTE_VIA_BRIDGE), "")
        table += content_rows(dict(theirs.policies), conversions, prefer=used)  # contents via a bridge (COCF)
        offer_v = mpb.Manifesto()
        by_bridge: dict[str, list[mpb.NegotiatedFeature]] = defaultdict(list)
        for row in table:
            if row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE:
                by_bridge[row.bridge_id].append(row)
        for bridge_id, rows in by_bridge.items():  # one virtual bridge per bridge used
            stub = self._channels.bridge(bridge_id)
            create = bpb.CreateVirtualBridgeRequest(
                from_m_instance_id=self._id, to_m_instance_id=peer_id, features=rows
            )
            created = await call(partial(stub.CreateVirtualBridge, create))
            verified = self._bridges.verify(created.offer_v, bridge_id, kind=mpb.MANIFESTO_KIND_OFFER_V)
            same_bridge(verified, identities[bridge_id])
            offer_v = verified.manifesto
        offer_a = mpb.Manifesto(
            manifesto_id=f"urn:uuid:{uuid.uuid4()}",
            kind=mpb.MANIFESTO_KIND_OFFER_A,
            issuer_id=self._id,
            peer_id=peer_id,
            produces=[r.offered for r in table if r.route != mpb.FEATURE_ROUTE_UNSUPPORTED],
            profiles=mine.profiles,
            policies=mine.policies,
            issued_at_ms=_now_ms(),
            virtual_bridge_id=offer_v.virtual_bridge_id,
            negotiated=table,
        )
        request = gpb.OfferManifestosRequest(offer_a=offer_a, offer_v=offer_v)
        offered = await call(lambda: peer.OfferManifestos(request))
        answer = offered.answer
        if answer.kind != mpb.MANIFESTO_KIND_ANSWER or answer.issuer_id != peer_id:
            raise InvalidInput("peer did not answer with its ANSWER manifesto", reason="MANIFESTO_INVALID")
        countersigned = await self.agreements.countersign(offered.agreement_json, answer, peer_id)
        message = gpb.AgreementMessage(agreement_json=countersigned)
        confirmed = await call(lambda: peer.ConfirmAgreement(message))
        await self.agreements.activate(confirmed.agreement_json, peer_id)
        await self._store.put_document(NS_OFFER, peer_id, request.SerializeToString())
        await self._store.put_document(NS_ANSWER, peer_id, answer.SerializeToString())
        return gpb.NegotiateResponse(
            offer_a=offer_a, offer_v=offer_v, answer=answer, agreement_json=confirmed.agreement_json
        )

    # -- answering side (B) ------------------------------------------------------------
    async def answer(self, offer_a: mpb.Manifesto, offer_v: mpb.Manifesto, peer_id: str) -> gpb.OfferManifestosResponse:
        """Answer offers A and V from ``peer_id`` (9.5 steps 6-7), store the answer, and propose
        the trust agreement it makes, signed by this instance.

        Each row is checked here, not taken on trust: DIRECT rows must fit this instance's
        accepted features; VIA_BRIDGE rows must target an accepted feature with this instance's
        constraints and name a conversion offer V carries. Rows that fail become UNSUPPORTED.
        Offer V of a bridge this gateway trusts must verify (BridgeIdentityRefused, nothing
        stored); one of a bridge it does not know is not used (its rows become UNSUPPORTED).
        """
        if offer_a.kind != mpb.MANIFESTO_KIND_OFFER_A or offer_a.issuer_id != peer_id:
            raise InvalidInput(f"offer A must be an OFFER_A manifesto issued by {peer_id}", reason="MANIFESTO_INVALID")
        if offer_a.peer_id != self._id:
            raise InvalidInput(f"offer A is addressed to {offer_a.peer_id}, not {self._id}", reason="MANIFESTO_INVALID")
        mine = await self.platform()
        offer_v = self._checked_offer_v(offer_v)
        bridged = {(p.item_type, p.from_qualifier.format, p.to_qualifier.format) for p in offer_v.conversions}
        rows = []
        for row in offer_a.negotiated:
            if is_content_row(row):  # checked against this instance's content policies
                rows.append(check_content_row(row, dict(mine.policies), bridged, offer_v.issuer_id))
            else:
                rows.append(self._check_row(row, list(mine.accepts), bridged, offer_v.issuer_id))
        answer = mpb.Manifesto(
            manifesto_id=f"urn:uuid:{uuid.uuid4()}",
            kind=mpb.MANIFESTO_KIND_ANSWER,
            issuer_id=self._id,
            peer_id=peer_id,
            accepts=mine.accepts,
            profiles=mine.profiles,
            policies=mine.policies,
            issued_at_ms=_now_ms(),
            virtual_bridge_id=offer_v.virtual_bridge_id,
            negotiated=rows,
        )
        offers = gpb.OfferManifestosRequest(offer_a=offer_a, offer_v=offer_v)
        await self._store.put_document(NS_OFFERED, peer_id, offers.SerializeToString())
        await self._store.put_document(NS_ANSWERED, peer_id, answer.SerializeToString())
        return gpb.OfferManifestosResponse(
            answer=answer, agreement_json=await self.agreements.propose(answer, offer_v, peer_id)
        )

    def _checked_offer_v(self, offer_v: mpb.Manifesto) -> mpb.Manifesto:
        """The verified (signed) offer V, or an empty one when no bridge is offered or the bridge
        is not one this gateway trusts."""
        if offer_v == mpb.Manifesto() or not self._bridges.knows(offer_v.issuer_id):
            return mpb.Manifesto()
        return self._bridges.verify(offer_v, offer_v.issuer_id, kind=mpb.MANIFESTO_KIND_OFFER_V).manifesto

    @staticmethod
    def _check_row(
        row: mpb.NegotiatedFeature, accepts: list[mpb.Feature], bridged: set[tuple[str, str, str]], bridge_id: str
    ) -> mpb.NegotiatedFeature:
        out = mpb.NegotiatedFeature()
        out.CopyFrom(row)
        key = (row.offered.item_type, row.offered.qualifier.sub_type)
        if row.route == mpb.FEATURE_ROUTE_DIRECT:
            for a in accepts:
                same = (a.item_type, a.qualifier.sub_type, a.qualifier.format) == (*key, row.offered.qualifier.format)
                if same and not violations(produced_facts(row.offered.constraints), a.constraints):
                    out.target.CopyFrom(a)
                    return out
        elif row.route == mpb.FEATURE_ROUTE_VIA_BRIDGE:
            conv = (row.offered.item_type, row.offered.qualifier.format, row.target.qualifier.format)
            for a in accepts:
                same = (a.item_type, a.qualifier.sub_type, a.qualifier.format) == (*key, row.target.qualifier.format)
                if same and conv in bridged and row.bridge_id == bridge_id:
                    out.target.CopyFrom(a)  # this instance's constraints, not the offer's
                    return out
        else:
            return out
        out.route = mpb.FEATURE_ROUTE_UNSUPPORTED
        out.ClearField("target")
        out.detail = f"not accepted by the answering instance: {row.detail}"
        return out
