"""The gateway node: store, channels, negotiation and migration services, gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial

from gateway.agreements import ACTIVE, PROPOSED, REVOKED, AgreementBook
from gateway.assets import AssetRelay
from gateway.audit_service import PeerCheckpoints, checkpoint_fetcher
from gateway.avatar_sync import AvatarSyncRelay
from gateway.bridge_trust import BridgeTrust
from gateway.bundles import BundleFollower
from gateway.channels import Channels
from gateway.content_search import ContentSearch
from gateway.content_sync import ContentVersionSync
from gateway.content_version_bridging import VersionConversion
from gateway.contents import ContentRelay
from gateway.envelope import EnvelopeChecker
from gateway.identity_import import MAX_NONCES_PER_PEER, NONCE_TTL_S, IdentityImport
from gateway.identity_migration import IdentityMigration
from gateway.identity_push import LEASE_S, IdentityPushWorker
from gateway.identity_servicer import IdentityFederationServicer, IdentityGatewayServicer
from gateway.identity_sync import IdentitySync
from gateway.keyring import Keyring
from gateway.migration import MigrationService
from gateway.negotiation import NegotiationService
from gateway.outbox import SYNC_LIMITS, Outbox
from gateway.refusals import CoalescingAuditLog
from gateway.resolution import ResolutionService
from gateway.servicer import FederationServicer, PlatformGatewayServicer
from gateway.status import GatewayStatusService
from gateway.transactions import TransactionReceiver
from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc, identity_pb2_grpc
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.config import GatewayConfig
from mmmfed.datadir import DataDirLock
from mmmfed.identity.linked import LinkedIdentities
from mmmfed.identity.nonces import LocalPresentationNonces, PresentationNonces
from mmmfed.identity.push_queue import PushQueue
from mmmfed.identity.store import IdentityStore
from mmmfed.keys import InstanceKeyStore
from mmmfed.metrics import NodeMetrics
from mmmfed.rpc import call
from mmmfed.rules import Rules
from mmmfed.server import NodeServer
from mmmfed.store import open_gateway_state
from mmmfed.tls import AccessPolicy, any_of, node_trust_domains, own_names, own_roles, peer_gateways

PLATFORM = "mmmfed.api.v1.PlatformGateway"
FEDERATION = "mmmfed.api.v1.Federation"
IDENTITY_GATEWAY = "mmmfed.api.v1.IdentityGateway"
IDENTITY_FEDERATION = "mmmfed.api.v1.IdentityFederation"
EXPIRED = "EXPIRED"  # an ACTIVE agreement past its ValidUntilMs


async def agreement_states(book: AgreementBook) -> dict[str, int]:
    """{state: number of agreements} from the book's records (PROPOSED, ACTIVE, REVOKED, EXPIRED),
    read at scrape time for ``mmmfed_agreements{state}``."""
    now_ms = int(time.time() * 1000)
    states: Counter[str] = Counter()
    for record in (await book.all()).values():
        expired = record["Status"] == ACTIVE and now_ms >= int(record["Document"]["ValidUntilMs"])
        states[EXPIRED if expired else str(record["Status"])] += 1
    return dict(states)


class GatewayNode:
    """A Resolution gateway for one M-Instance (``start()``/``stop()``, stop idempotent).

    RI methods are open to this gateway's own instance (its TLS name), its platform clients and
    operator certificates, all of its own trust domain; RE methods to each configured peer's
    gateway, identified by that peer's bundle.
    """

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = NodeMetrics()  # this node's own registry, served at observability.metrics_listen
        config.data_dir.mkdir(parents=True, exist_ok=True)
        # DATA_DIR_LOCKED when another node holds it. Replicas on Redis share the state in Redis
        # and may share a data dir (it then holds only the instance keys): no lock for them.
        self._data_lock = DataDirLock(config.data_dir) if config.store.backend == "sqlite" else None
        round_trips = self.metrics.store_round_trips
        # config.store: sqlite, or redis for replicas
        self.store, log = open_gateway_state(config, on_round_trip=lambda op: round_trips.labels(op=op).inc())
        self.audit = CoalescingAuditLog(log)  # a peer's refusals are coalesced (issue 12 item 7)
        # Its own trust domain, and one per peer M-Instance and per bridge (BUNDLE_INVALID: exit 2).
        self.domains = node_trust_domains(config)
        self.channels = Channels(
            config.tls, instance=config.instance, peers=config.peers, bridges=config.bridges, domains=self.domains
        )
        self.bundles = BundleFollower(config, self.domains, self.channels)
        self.keys = InstanceKeyStore(config.data_dir / "keys", config.m_instance_id)
        self.keyring = Keyring(self._fetch_keys, cache=self.store)
        self.peer_checkpoints = PeerCheckpoints(checkpoint_fetcher(self.channels), self.keyring, self.store)
        self._checkpoint_watch: asyncio.Task[None] | None = None
        verifier = ForeignItemVerifier(self.keyring, rules=Rules(config.rules), metrics=self.metrics)
        self.agreements = AgreementBook(
            config.m_instance_id, self.store, self.keys, verifier, accept_from=config.accept_agreements_from
        )
        self.metrics.add_state_gauge(
            "mmmfed_agreements",
            "Trust agreements of this M-Instance by state (PROPOSED, ACTIVE, REVOKED, EXPIRED), read from its "
            "shared state at scrape time (every replica reports the same).",
            label="state",
            states=(PROPOSED, ACTIVE, REVOKED, EXPIRED),
            read=partial(agreement_states, self.agreements),
        )
        self.negotiation = NegotiationService(
            config.m_instance_id,
            self.store,
            self.channels,
            self.agreements,
            bridge_trust=BridgeTrust.from_config(config),  # issue 12 item 5: manifesto V verified
        )
        envelopes = EnvelopeChecker(config.m_instance_id, self.keyring, self.store)
        self.avatar_sync = AvatarSyncRelay(config.m_instance_id, self.channels, self.agreements)  # 9.1 steps 5-7
        self.migration = MigrationService(
            config.m_instance_id,
            self.channels,
            self.negotiation,
            keys=self.keys,
            verifier=verifier,
            envelopes=envelopes,
            metrics=self.metrics,
            avatar_sync=self.avatar_sync,
        )
        self.assets = AssetRelay(
            config.m_instance_id,
            self.channels,
            self.negotiation,
            keys=self.keys,
            verifier=verifier,
            envelopes=envelopes,
            audit=self.audit,
            metrics=self.metrics,
        )
        self.contents = ContentRelay(  # FGMV-43 9.3 steps 1-4 (RI-3, RE-3)
            config.m_instance_id,
            self.channels,
            self.negotiation,
            keys=self.keys,
            verifier=verifier,
            envelopes=envelopes,
            audit=self.audit,
            metrics=self.metrics,
        )
        self.content_sync = ContentVersionSync(  # FGMV-43 9.3 steps 5-7 (COSF)
            config.m_instance_id,
            self.channels,
            self.negotiation,
            audit=self.audit,
            limits=self.contents,
            keys=self.keys,
            envelopes=envelopes,
        )
        self.content_sync.conversion = VersionConversion(  # a converted content's versions (COCF)
            config.m_instance_id,
            self.channels,
            self.negotiation,
            bridge=self.contents.bridging,
            keys=self.keys,
            verifier=verifier,
        )
        # FGMV-43 9.4 (issue 17): identities, home side (RI-4, RE-4 out) and destination (RE-4 in)
        self.identity = IdentityMigration(
            config.m_instance_id,
            self.channels,
            self.agreements,
            self.negotiation,
            keys=self.keys,
            keyring=self.keyring,
            store=IdentityStore(config.data_dir / "identity", config.m_instance_id),
            audit=self.audit,
        )
        self.identity_import = IdentityImport(
            config.m_instance_id,
            self.channels,
            self.agreements,
            self.negotiation,
            keys=self.keys,
            fetch_keys=self._fetch_keys,
            linked=LinkedIdentities(config.data_dir / "identity" / "linked", config.m_instance_id),
            audit=self.audit,
            nonces=self._presentation_nonces(),
        )
        self.identity_sync = IdentitySync(  # IDSF, 9.4 steps 5-7: both sides
            self.identity,
            self.identity_import,
            m_instance_id=config.m_instance_id,
            channels=self.channels,
            agreements=self.agreements,
            keys=self.keys,
            audit=self.audit,
        )
        # IDSF step 5 on its own: a change at home reaches every linked platform (durable queue)
        self.identity_push = IdentityPushWorker(
            self.identity_sync,
            self.identity.store,
            PushQueue(config.data_dir / "identity" / "push-queue"),
            lease=self._push_lease(),  # replicas on Redis: one pushes at a time
        )
        self.content_search = ContentSearch(  # COIR-101/105 (RI-3, RE-3)
            config.m_instance_id, self.channels, self.agreements, keys=self.keys, verifier=verifier
        )
        self.resolution = ResolutionService(
            config.m_instance_id,
            channels=self.channels,
            agreements=self.agreements,
            keys=self.keys,
            verifier=verifier,
            audit=self.audit,
        )
        # issue 18 item 2: federation transactions out (per-destination lanes) and in
        outbox = partial(
            Outbox,
            config.m_instance_id,
            channels=self.channels,
            agreements=self.agreements,
            keys=self.keys,
            audit=self.audit,
            metrics=self.metrics,
        )
        self.outbox = outbox()
        self.transactions = TransactionReceiver(
            agreements=self.agreements,
            verifier=verifier,
            resolution=self.resolution,
            store=self.store,
            audit=self.audit,
            identity=self.identity_sync,
            content=self.content_sync,
            metrics=self.metrics,
        )
        # the synchronisation channels' messages travel in transactions too, in lanes of their own
        self.sync_outbox = outbox(limits=SYNC_LIMITS)
        self.identity_sync.outbox = self.sync_outbox
        self.content_sync.outbox = self.sync_outbox
        self.status = GatewayStatusService(
            config.m_instance_id,
            negotiation=self.negotiation,
            agreements=self.agreements,
            channels=self.channels,
            migrations=self.migration.in_flight,
            audit=self.audit,
        )
        # RI: its own instance, platform clients and operators, all of its own trust domain only.
        # RE: a peer's gateway, from that peer's bundle and under the TLS name configured for it.
        platform_callers = any_of(
            own_names([config.instance.tls_name, *config.platform_clients]), own_roles("operator")
        )
        peer_callers = peer_gateways({m: p.tls_name for m, p in config.peers.items()})
        # RI-4 identity migration: the M-Instance's operators only (they act for its users)
        by_service = {
            PLATFORM: platform_callers,
            FEDERATION: peer_callers,
            IDENTITY_GATEWAY: own_roles("operator"),
            IDENTITY_FEDERATION: peer_callers,
        }
        policy = AccessPolicy(self.domains, by_service)
        self.server = NodeServer(
            listen=config.listen,
            tls=config.tls,
            registrars=[
                partial(
                    gateway_pb2_grpc.add_PlatformGatewayServicer_to_server,
                    PlatformGatewayServicer(
                        self.negotiation,
                        self.migration,
                        self.channels,
                        self.audit,
                        self.resolution,
                        self.assets,
                        domains=self.domains,
                        status=self.status,
                        outbox=self.outbox,
                        contents=self.contents,
                        content_sync=self.content_sync,
                        content_search=self.content_search,
                        avatar_sync=self.avatar_sync,
                    ),
                ),
                partial(
                    gateway_pb2_grpc.add_FederationServicer_to_server,
                    FederationServicer(
                        config,
                        self.domains,
                        self.negotiation,
                        self.migration,
                        self.channels,
                        self.keys,
                        self.audit,
                        self.resolution,
                        self.assets,
                        transactions=self.transactions,
                        contents=self.contents,
                        content_sync=self.content_sync,
                        content_search=self.content_search,
                        avatar_sync=self.avatar_sync,
                    ),
                ),
                partial(
                    identity_pb2_grpc.add_IdentityGatewayServicer_to_server,
                    IdentityGatewayServicer(self.identity, self.identity_sync),
                ),
                partial(
                    identity_pb2_grpc.add_IdentityFederationServicer_to_server,
                    IdentityFederationServicer(
                        self.identity_import,
                        self.identity,
                        self.identity_sync,
                        domains=self.domains,
                        channels=self.channels,
                    ),
                ),
            ],
            service_names=[PLATFORM, FEDERATION, IDENTITY_GATEWAY, IDENTITY_FEDERATION],
            policy=policy,
            metrics=self.metrics,
            metrics_listen=config.observability.metrics_listen,
            maximum_concurrent_rpcs=config.maximum_concurrent_rpcs,
        )

    def _push_lease(self) -> Callable[[], Awaitable[bool]] | None:
        """The identity push worker's lease among replicas on Redis (gateway/identity_push.py),
        held by this process; None for one gateway process."""
        hold = getattr(self.store, "hold_lease", None)
        if hold is None:
            return None
        holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

        async def lease() -> bool:
            taken: bool = await hold("identity-push", holder, ttl_ms=int(LEASE_S * 1000))
            return taken

        return lease

    def _presentation_nonces(self) -> PresentationNonces:
        """RE-4 presentation nonces: in Redis, shared by every replica, when the gateway's state
        is there; else in this process (FGMV-43 9.4 step 3, gateway/identity_import.py)."""
        shared = getattr(self.store, "presentation_nonces", None)  # RedisState's (redis imported only then)
        if shared is not None:
            nonces: PresentationNonces = shared(ttl_s=NONCE_TTL_S, max_per_peer=MAX_NONCES_PER_PEER)
            return nonces
        return LocalPresentationNonces(ttl_s=NONCE_TTL_S, max_per_peer=MAX_NONCES_PER_PEER)

    async def _fetch_keys(self, m_instance_id: str) -> mpb.KeySet:
        stub = self.channels.peer(m_instance_id)
        return await call(lambda: stub.GetKeys(gpb.GetKeysRequest()))

    async def start(self) -> str:
        """Make the instance's first signing key if it has none, then serve; returns the bound
        "host:port"."""
        await self.store.start()  # STORE_NOT_DURABLE: refuse to serve
        self.keys.ensure_key()
        address = await self.server.start()
        self.bundles.start()
        self.identity_push.start()  # what was queued before a stop is pushed now
        # keep each peer's signed audit checkpoint, every 5 minutes (issue 12 item 7)
        self._checkpoint_watch = asyncio.create_task(self.peer_checkpoints.run(lambda: list(self.channels.peers)))
        return address

    async def stop(self) -> None:
        """Stop serving, close channels and the store (idempotent)."""
        await self.bundles.stop()
        await self.identity_push.stop()
        await self.outbox.stop()
        await self.sync_outbox.stop()
        await self.server.stop()
        if self._checkpoint_watch is not None:
            self._checkpoint_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_watch
            self._checkpoint_watch = None
        await self.channels.close()
        await self.store.close()
        await self.audit.close()
        if self._data_lock is not None:
            self._data_lock.release()

    async def run_forever(self) -> None:
        """Serve until cancelled (SIGTERM in ``mmmfed serve``), then stop."""
        await self.start()
        try:
            await self.server.wait()
        except asyncio.CancelledError:
            pass
        finally:
            await self.stop()
