"""What a gateway trusts each configured bridge by (issue 12 item 5): the TLS name its certificate
must carry and the CA bundle it must chain to. Manifesto V from a bridge (GetManifesto,
CreateVirtualBridge) or relayed by a peer (OfferManifestos) is used only once it verifies
against them (mmmfed/bridge_identity.py), and a converted Item only with a proof by the key the
verified manifesto V names (:func:`check_converted`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.bridge_identity import IDENTITY_MISMATCH, BridgeIdentityRefused, VerifiedBridge, verify_bridge_manifesto
from mmmfed.config import GatewayConfig
from mmmfed.errors import InvalidInput, NotFound, Unavailable
from mmmfed.proofs import verify_document
from mmmfed.strictjson import parse_json


class BridgeTrust:
    """Bridge id -> (TLS name, path of the CA bundle its certificates chain to).

    The bundle is read at each check, so a CA rotated in the file applies without a restart.
    ``now`` (tests pass a fake) gives the time certificates must be valid at.
    """

    def __init__(
        self,
        anchors: Mapping[str, tuple[str, Path]],
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._anchors = dict(anchors)
        self._now = now

    @classmethod
    def from_config(cls, config: GatewayConfig) -> BridgeTrust:
        """The bridges of ``config.bridges``, each trusted by its TLS name and its own CA bundle
        (``bridges.<id>.bundle``: a bridge's bundle only for that bridge, issue 12 item 1)."""
        anchors = {b: (peer.tls_name, peer.bundle or config.tls.ca_cert) for b, peer in config.bridges.items()}
        return cls(anchors)

    def knows(self, bridge_id: str) -> bool:
        """Whether ``bridge_id`` is a bridge this gateway is configured to trust."""
        return bridge_id in self._anchors

    def verify(self, manifesto: mpb.Manifesto, bridge_id: str, *, kind: mpb.ManifestoKind.ValueType) -> VerifiedBridge:
        """``manifesto`` verified as ``bridge_id``'s manifesto V of ``kind`` (BRIDGE or OFFER_V).

        Raises NotFound ``UNKNOWN_BRIDGE`` (not configured), InvalidInput ``MANIFESTO_INVALID``
        (another kind; an OFFER_V without virtual bridge id), Unavailable ``BRIDGE_BUNDLE_UNREADABLE``,
        and BridgeIdentityRefused (mmmfed/bridge_identity.py).
        """
        if bridge_id not in self._anchors:
            raise NotFound(f"no bridge {bridge_id} configured", reason="UNKNOWN_BRIDGE")
        if manifesto.kind != kind:
            raise InvalidInput(
                f"expected a {mpb.ManifestoKind.Name(kind)} manifesto from {bridge_id}", reason="MANIFESTO_INVALID"
            )
        if kind == mpb.MANIFESTO_KIND_OFFER_V and not manifesto.virtual_bridge_id:
            raise InvalidInput(f"offer manifesto V of {bridge_id} names no virtual bridge", reason="MANIFESTO_INVALID")
        tls_name, bundle_path = self._anchors[bridge_id]
        try:
            bundle = bundle_path.read_bytes()
        except OSError as err:
            raise Unavailable(
                f"cannot read the CA bundle of bridge {bridge_id} ({bundle_path}): {err.strerror}",
                reason="BRIDGE_BUNDLE_UNREADABLE",
            ) from err
        return verify_bridge_manifesto(
            manifesto, bridge_id=bridge_id, tls_name=tls_name, bundle_pem=bundle, now=self._now()
        )


def same_bridge(offer_v: VerifiedBridge, bridge: VerifiedBridge) -> None:
    """An offer manifesto V must be by the key of the bridge's own manifesto V; else
    BridgeIdentityRefused ``BRIDGE_IDENTITY_MISMATCH``."""
    if offer_v.did != bridge.did:
        raise BridgeIdentityRefused(
            f"offer manifesto V of {bridge.manifesto.issuer_id} is by {offer_v.did}, its manifesto V by {bridge.did}",
            reason=IDENTITY_MISMATCH,
        )


def check_converted(item_json: bytes, bridge_keys: Mapping[str, bytes], bridge_id: str) -> None:
    """A converted Item from ``bridge_id`` must carry one proof, by a key of ``bridge_keys`` (the
    verified offer manifesto V of the negotiation), that verifies. Raises BridgeIdentityRefused
    ``BRIDGE_IDENTITY_MISMATCH`` (another signer) or with the proof's reason (e.g.
    ``SIGNATURE_INVALID``); InvalidInput from the JSON parser."""
    doc = parse_json(item_json)
    proof = doc.get("proof") if isinstance(doc, dict) else None
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if method not in bridge_keys:
        raise BridgeIdentityRefused(
            f"the Item {bridge_id} converted is signed by {method}, not by the key its certificate binds "
            f"({', '.join(sorted(bridge_keys)) or 'none negotiated'})",
            reason=IDENTITY_MISMATCH,
        )
    result = verify_document(doc, resolve_key=bridge_keys.__getitem__, expected_proof_purpose="assertionMethod")
    if not result.verified:
        raise BridgeIdentityRefused(
            f"the proof of {bridge_id} on the converted Item does not verify: {result.reason}", reason=result.reason
        )
