"""Peers' trust domain bundles kept current over RE-5 (SPIFFE's bundle endpoint, mmmfed style).

A gateway starts from the bundle its operator configured for each peer (``peers.<id>.bundle``).
Every ``bundle_refresh_s`` it asks each peer's gateway for its current bundle (``GetBundle``),
over a channel authenticated with the bundle it already holds, and adopts what it gets:

* a CA the peer adds ahead of a rotation is trusted from then on, for that peer only;
* a CA the peer removed stops that peer's traffic signed by it (new handshakes and calls alike).

An adopted bundle is kept in ``<data_dir>/bundles/<peer>.<configured digest>.pem``, so a restart
resumes from it; changing the configured bundle (a new digest) discards what was learned before.
A fetched bundle that is not CA certificates of that peer's domain is refused and the held one
kept; a peer that cannot be reached keeps its held bundle (and a log line says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from gateway.channels import Channels
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.config import GatewayConfig
from mmmfed.errors import MmmfedError
from mmmfed.rpc import call
from mmmfed.trust import TrustBundle, TrustDomains

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 10.0


class BundleFollower:
    """Fetches and adopts peers' bundles (``start()``/``stop()``; :meth:`refresh` once, for tests)."""

    def __init__(self, config: GatewayConfig, domains: TrustDomains, channels: Channels) -> None:
        self._config = config
        self._domains = domains
        self._channels = channels
        self._dir = config.data_dir / "bundles"
        self._task: asyncio.Task[None] | None = None

    def _path(self, peer: str) -> Path:
        configured = self._config.peers[peer].bundle
        assert configured is not None  # GatewayConfig requires it
        digest = TrustBundle.load(configured, trust_domain=peer).digest[:16]
        return self._dir / f"{peer}.{digest}.pem"

    def load_adopted(self) -> None:
        """Adopt the bundles learned before a restart (those learned for the configured bundle)."""
        for peer in self._config.peers:
            path = self._path(peer)
            if path.is_file():
                try:
                    self._adopt(TrustBundle.load(path, trust_domain=peer), persist=False)
                except MmmfedError as err:
                    log.warning("stored bundle ignored", extra={"peer": peer, "path": str(path), "reason": err.reason})

    def _adopt(self, bundle: TrustBundle, *, persist: bool) -> bool:
        changed = self._domains.set_peer(bundle)
        if changed:
            self._channels.reset_peer(bundle.trust_domain)
            if persist:
                self._dir.mkdir(parents=True, exist_ok=True)
                path = self._path(bundle.trust_domain)
                tmp = path.with_suffix(".new")
                tmp.write_bytes(bundle.pem)
                tmp.replace(path)
            log.info("peer bundle adopted", extra={"peer": bundle.trust_domain, "cas": len(bundle.cas)})
        return changed

    async def refresh(self, peer: str) -> bool:
        """Fetch ``peer``'s bundle now and adopt it; True if it changed. Raises the peer's error
        (RemoteError) or InvalidInput ``BUNDLE_INVALID`` for a bundle that is not that domain's."""
        stub = self._channels.peer(peer)
        answer = await call(lambda: stub.GetBundle(gpb.GetBundleRequest(), timeout=FETCH_TIMEOUT_S), attempts=1)
        bundle = TrustBundle.from_pem(answer.bundle_pem, trust_domain=peer, source=f"GetBundle of {peer}")
        return self._adopt(bundle, persist=True)

    async def refresh_all(self) -> None:
        """One round over every peer; failures are logged, never raised."""
        for peer in list(self._config.peers):
            try:
                await self.refresh(peer)
            except MmmfedError as err:
                log.warning("peer bundle not refreshed", extra={"peer": peer, "reason": err.reason})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._config.bundle_refresh_s)
            await self.refresh_all()

    def start(self) -> None:
        self.load_adopted()
        if self._config.bundle_refresh_s > 0 and self._config.peers and self._task is None:
            self._task = asyncio.create_task(self._run(), name="bundle-follower")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def own_bundle(config: GatewayConfig) -> gpb.TrustBundle:
    """This M-Instance's bundle as ``GetBundle`` answers it: ``tls.ca_cert`` read now (so a CA
    added to it for a rotation is published at once); InvalidInput ``BUNDLE_INVALID`` if that
    file no longer holds this domain's CAs."""
    bundle = TrustBundle.load(config.tls.ca_cert, trust_domain=config.m_instance_id)
    return gpb.TrustBundle(
        trust_domain=bundle.trust_domain,
        bundle_pem=bundle.pem,
        refresh_hint_s=int(config.bundle_refresh_s),
    )
