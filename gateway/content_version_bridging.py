"""Versions of a converted content through the bridge (ITU FGMV-43 9.3 steps 5-7 with 9.5 steps
5-9, COSF with COCF, COIR-204/205): how a content the bridge converted on its migration stays in
step with its home.

The content's versions are one graph on both sides (:mod:`mmmfed.content.renditions`): the same
records and ids; each side holds its own representation. Home side (:meth:`VersionConversion.outgoing`,
on every RE-3 ``ExchangeContentVersions`` message to the peer, pushed or answered): a version of
one of this M-Instance's own contents that the peer's manifesto does not accept as it is goes
through the bridge of the negotiated row for its Qualifier, by the same route and limits as the
migration (:class:`gateway.content_bridging.ContentBridge`): this gateway signs the content's Item
at that version (what its own M-Instance holds: the Item and the version's parts, read over
RI-3), the bridge converts it, and the message carries the version's record unchanged, the
converted parts, the converted Item (signed by the bridge over this gateway's proof), the bridge
and its report. A version the bridge cannot convert stops the message: FAILED_PRECONDITION
``CONVERSION_FAILED`` (``cause``, ``bridge``), nothing of it sent, so nothing stored at the peer.
The synchronisation fails with that reason, is audited, and the M-Instance's queue retries that
row alone with its capped backoff (the refusal is remembered for :data:`REFUSAL_HOLD_S` per peer
and version, at most :data:`MAX_REFUSALS_HELD` of them, so a retry meanwhile fails at once
instead of asking the bridge again) (:mod:`instance.content.sync`: the destination's other
contents go on, and the versions the peer made still come home, since a synchronisation pulls
before it pushes); the versions after it wait, since each names its parents.

Receiving side (:meth:`VersionConversion.incoming`): a version carrying a converted Item is
verified as a converted content at migration is: the bridge's proof over the home gateway's, by
the keys of the negotiation's offer V (the verification pipeline of converted Items), the
conversion kept licence, metadata and Rights (:func:`gateway.content_bridging.check_kept`), its
SourceItem is the home content at exactly that version (its ItemParts the record's), and the
parts are those the converted Item lists; limits and acceptance then apply to the converted
representation.

A version made at the destination (e.g. a ``.glb`` a user edited there) names its own parts and
reaches the home as it is: the home's manifesto must accept it (``CONTENT_NOT_ACCEPTED``
otherwise, retried as above). It is never converted back: a home publishes the formats it takes
in its manifesto, a conversion back would be a second lossy step on the user's own edit (the
bridge's routes are negotiated for home -> destination only), and a glTF 2.0 ``.glb`` is the
same model a ``.gltf`` package is.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from gateway.channels import Channels
from gateway.content_bridging import CONVERSION_FAILED, ContentBridge, check_kept
from gateway.negotiation import NegotiationService
from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.content.acceptance import ContentAcceptance
from mmmfed.content.item import PartRef, check_parts, is_content, parts_of
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.versions import ContentVersion
from mmmfed.errors import FailedPrecondition, InvalidInput, PermissionDenied
from mmmfed.items import Item, instance_or_none, item_of, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call
from mmmfed.v22.codec import decode

REFUSAL_HOLD_S = 30.0
"""How long a bridge's refusal of one version for one peer is answered again without asking it."""
MAX_REFUSALS_HELD = 256


def _version_doc(doc: Mapping[str, Any], version: ContentVersion) -> dict[str, Any]:
    """The content's Item at ``version``: its Qualifier, DescrMetadata and ItemParts, no proof."""
    new = {k: v for k, v in doc.items() if k != "proof"}
    new["ItemQualifier"] = dict(version.qualifier)
    new["DescrMetadata"] = dict(version.metadata)
    new["ItemParts"] = [
        {
            "Path": p.path,
            "MediaType": p.media_type,
            "Size": p.size,
            "Digest": {"Algorithm": "sha-256", "Value": p.sha256},
        }
        for p in version.parts
    ]
    return new


def _package(data: cpb.ContentVersionData, listed: list[PartRef] | tuple[PartRef, ...]) -> ContentPackage:
    media = {p.path: p.media_type for p in listed}
    return ContentPackage(tuple(ContentPart.of(p.path, p.data, media.get(p.path, "")) for p in data.parts))


class VersionConversion:
    """Both sides of converting a content's versions on RE-3 (see the module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        channels: Channels,
        negotiation: NegotiationService,
        *,
        bridge: ContentBridge,
        keys: InstanceKeyStore,
        verifier: ForeignItemVerifier,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._negotiation = negotiation
        self._bridge = bridge
        self._keys = keys
        self._verifier = verifier
        self._refused: OrderedDict[tuple[str, str], tuple[float, FailedPrecondition]] = OrderedDict()

    def _held_refusal(self, peer: str, version_id: str) -> FailedPrecondition | None:
        held = self._refused.get((peer, version_id))
        if held is None or held[0] < time.monotonic():
            self._refused.pop((peer, version_id), None)
            return None
        return held[1]

    def _hold_refusal(self, peer: str, version_id: str, err: FailedPrecondition) -> None:
        self._refused[(peer, version_id)] = (time.monotonic() + REFUSAL_HOLD_S, err)
        while len(self._refused) > MAX_REFUSALS_HELD:
            self._refused.popitem(last=False)

    async def _home_item(self, content_id: str) -> Item:
        instance = self._channels.content_exchange()
        request = cpb.ExportContentRequest(content_id=content_id)
        exported: cpb.GetContentResponse = await call(lambda: instance.ExportContent(request))
        return parse_item(exported.content.item.item_json)

    async def outgoing(self, message: cpb.ContentVersions, peer: str) -> None:
        """Convert, in ``message`` (to ``peer``), each version of a content of this M-Instance the
        peer accepts only converted (module docstring). Raises FailedPrecondition
        ``CONVERSION_FAILED`` and :meth:`ContentBridge.convert`'s other errors, and
        ``CONTENT_NOT_ACCEPTED`` / ``CONTENT_TOO_LARGE`` for a converted version the peer's
        manifesto still does not accept."""
        if not message.versions or instance_or_none(message.content_id) != self._id:
            return  # only a content's home converts it (never converted back)
        accepted_there = ContentAcceptance.of(await self._negotiation.peer_policies(peer))
        home: Item | None = None
        for data in message.versions:
            if data.converted_item.item_json:
                continue
            version = ContentVersion.from_record(data.record_json, version_id=data.version_id)
            if accepted_there.fits(version.qualifier):
                continue
            row = await self._bridge.route(peer, version.qualifier)
            if row is None:  # no route: the peer refuses it with its reason, as a migration
                continue
            held = self._held_refusal(peer, version.version_id)
            if held is not None:
                raise FailedPrecondition(held.message, reason=held.reason, metadata=dict(held.metadata))
            home = home or await self._home_item(message.content_id)
            record, key = self._keys.current()
            signed = sign_item(
                item_of(_version_doc(home.doc, version)), key=key, verification_method=self._keys.method(record)
            )
            try:
                converted = await self._bridge.convert(signed, _package(data, version.parts), row, peer)
            except FailedPrecondition as err:
                if err.reason == CONVERSION_FAILED:
                    self._hold_refusal(peer, version.version_id, err)
                raise
            accepted_there.require(converted.item.qualifier, parts_of(converted.item.doc), where=peer)
            del data.parts[:]
            data.parts.extend(
                cpb.ContentPartData(path=p.path, media_type=p.media_type, data=p.data) for p in converted.package.parts
            )
            data.converted_item.item_json = converted.item.raw
            data.bridge_id = converted.bridge_id
            data.conversion_report_json = converted.report_json()

    async def incoming(self, message: cpb.ContentVersions, peer: str) -> dict[str, Item]:
        """Verify each converted version ``message`` from ``peer`` carries (module docstring); its
        converted Item by version id. Raises the verification pipeline's refusals
        (``BRIDGE_NOT_ALLOWED``, ``SIGNATURE_INVALID``...), InvalidInput ``NOT_CONTENT``,
        PermissionDenied ``CONVERSION_ALTERED_CONTENT``, DataIntegrityError ``DIGEST_MISMATCH``..."""
        out: dict[str, Item] = {}
        bridge_keys: dict[str, bytes] | None = None
        for data in message.versions:
            if not data.converted_item.item_json:
                continue
            if bridge_keys is None:
                bridge_keys = await self._negotiation.bridge_keys(peer, incoming=True)
            version = ContentVersion.from_record(data.record_json, version_id=data.version_id)
            item = await self._verifier.verify_persona(
                data.converted_item.item_json, peer_id=peer, bridge_keys=bridge_keys
            )
            if not is_content(item.doc) or "SourceItem" not in item.doc:
                raise InvalidInput(
                    f"version {version.version_id[:12]}'s converted Item is not a converted content",
                    reason="NOT_CONTENT",
                )
            check_kept(item)
            source = decode(item.doc["SourceItem"])
            if source.get("ItemID") != version.content_id or tuple(parts_of(source)) != version.parts:
                raise PermissionDenied(
                    f"the bridge's Item for version {version.version_id[:12]} is not that version converted",
                    reason="CONVERSION_ALTERED_CONTENT",
                )
            check_parts(item.doc, _package(data, parts_of(item.doc)))
            out[version.version_id] = item
        return out
