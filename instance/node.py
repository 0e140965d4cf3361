"""The M-Instance node: store, services, gRPC server, and manifesto registration (RI-5)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import grpc

from instance.assets.decisions import TransferDecisions
from instance.assets.ledger import AssetLedger
from instance.assets.transfers import TransferService
from instance.avatar_home_queue import AvatarHomeQueue
from instance.avatar_status import AvatarMigrations
from instance.avatar_sync import AvatarSync
from instance.avatar_wear import wear_in_world
from instance.avatars import AvatarService
from instance.content.imports import ContentImports
from instance.content.service import ContentService
from instance.content.servicer import ContentExchangeServicer, ContentServicer
from instance.content.store import ContentStore
from instance.content.sync import ContentSyncWorker
from instance.database import Database
from instance.linked_identities import LinkedIdentityService
from instance.process_actions import ProcessActionService
from instance.servicer import InstanceServicer
from instance.world.model import ProcessActionRequest, ProcessActionResponse
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.api.v1 import content_pb2_grpc, gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.config import InstanceConfig, check_manifesto_formats
from mmmfed.datadir import DataDirLock
from mmmfed.errors import MmmfedError, NotFound, RemoteError
from mmmfed.exchange import ExchangePolicy
from mmmfed.items import Item, parse_item
from mmmfed.manifesto import platform_manifesto
from mmmfed.metrics import NodeMetrics
from mmmfed.rpc import RETRYABLE_CODES, call
from mmmfed.server import NodeServer
from mmmfed.store import SqliteStore
from mmmfed.tls import AccessPolicy, any_of, node_trust_domains, own_names, own_roles, secure_channel

log = logging.getLogger(__name__)


def asset_policies(config: InstanceConfig) -> dict[str, str]:
    """Manifesto policies of the asset ledger: ``asset.currency`` and, per peer,
    ``asset.exchange.<peer>`` ("to=BCU rate=3/2 fee_bp=50 rounding=half_even")."""
    assets = config.assets
    policies = {"asset.currency": assets.currency_id}
    for peer, policy in assets.exchange.items():
        described = ExchangePolicy.from_config(policy, from_currency=assets.currency_id, source="").describe()
        policies[f"asset.exchange.{peer}"] = described
    return policies


SERVICE = "mmmfed.api.v1.Instance"
CONTENT_SERVICE = "mmmfed.api.v1.Content"
CONTENT_EXCHANGE = "mmmfed.api.v1.ContentExchange"


class InstanceNode:
    """A reference M-Instance: ``start()`` serves and registers the manifesto with the
    gateway (FGMV-43 9.5 step 1); ``stop()`` is idempotent."""

    def __init__(self, config: InstanceConfig) -> None:
        # Before anything is opened: a manifesto naming a format no one knows never starts.
        check_manifesto_formats(config.manifesto, source=f"M-Instance {config.m_instance_id}")
        self.config = config
        self.metrics = NodeMetrics()  # this node's own registry, served at observability.metrics_listen
        self._data_lock = DataDirLock(config.data_dir)  # DATA_DIR_LOCKED: another node holds it
        try:  # DATA_DIR_FORMAT: a data_dir another release wrote is refused, left as it is
            self.store = SqliteStore(config.data_dir)
            # One database: Activity Data and the asset ledger commit each decision together.
            self.database = Database.in_dir(config.data_dir)
        except BaseException:
            if hasattr(self, "store"):
                self.store.close()
            self._data_lock.release()
            raise
        self.manifesto = platform_manifesto(config.m_instance_id, config.manifesto)
        self.manifesto.policies.update(asset_policies(config))  # ASEF: what peers may expect (9.2)
        self.ledger = AssetLedger(
            self.database,
            m_instance_id=config.m_instance_id,
            currency_id=config.assets.currency_id,
        )
        self.process_actions = ProcessActionService(
            config.m_instance_id,
            database=self.database,
            resolver=self._resolve if config.gateway is not None else None,
            ledger=self.ledger,  # one Wallet per Process: FundWallet funds what Transact pays from
        )
        self.avatars = AvatarService(config, self.store, self.process_actions)
        # FGMV-43 9.4 step 4: identities its gateway admitted; an unlinked one stays gone after replay
        self.linked_identities = LinkedIdentityService(self.database, self.process_actions)
        self.linked_identities.reconcile()
        self._gateway_channel: grpc.aio.Channel | None = None
        self.assets = TransferService(
            TransferDecisions(self.ledger, self.process_actions),
            config.assets,
            config.manifesto,
            self._gateway_stub if config.gateway is not None else None,
        )
        own_gateway = [config.gateway.tls_name] if config.gateway is not None else []
        # Its own trust domain only: no other domain's certificate completes a handshake here.
        self.domains = node_trust_domains(config)
        migrations = AvatarMigrations(self.database, self.process_actions.world, linked_home=self._linked_home)
        self.avatar_sync = AvatarSync(  # FGMV-43 9.1 steps 5-7, AVIR-102/103
            self.database,
            config.m_instance_id,
            lookup=self._held_item,
            persona_of=self.avatars.persona_of,
            migrations=migrations,
            activity=self.process_actions.activity,
            wear=wear_in_world(self.process_actions),  # AVIR-303: a Modify of the Persona, Rights checked
        )
        # AVSF: a roaming User's change goes home at once, or waits in a durable queue while home is down.
        self.avatar_home = (
            AvatarHomeQueue(self.database, self.avatar_sync, self._sync_home) if config.gateway is not None else None
        )
        servicer = InstanceServicer(
            self.avatars,
            migrations,
            self.manifesto,
            self.process_actions,
            self.assets,
            own_gateway=own_gateway[0] if own_gateway else None,
            domains=self.domains,
            avatar_sync=self.avatar_sync,
            home_sync=self.avatar_home.submit if self.avatar_home is not None else None,
            linked=self.linked_identities,
        )
        self._clock: asyncio.Task[None] | None = None
        # Only its own gateway and operators call it: another M-Instance's gateway must go
        # through this instance's gateway, which checks origin and the negotiated answer.
        # Contents (FGMV-43 9.3): published and read by this M-Instance's own operators.
        # Their migration (9.3 steps 1-4, RI-3): ContentExchange for its own gateway only.
        self.contents = ContentService(self.process_actions, ContentStore(self.database))
        self.content_imports = ContentImports(self.process_actions, self.contents.store)
        policy = AccessPolicy(
            self.domains,
            {
                SERVICE: any_of(own_names(own_gateway), own_roles("operator")),
                CONTENT_SERVICE: own_roles("operator"),
                CONTENT_EXCHANGE: own_names(own_gateway),
            },
        )
        gateway = self._gateway_stub if config.gateway is not None else None
        # COSF: the durable per-destination queue of content versions, drained on its own.
        self.content_sync = ContentSyncWorker(self.contents.store, gateway) if gateway is not None else None
        self.server = NodeServer(
            listen=config.listen,
            tls=config.tls,
            registrars=[
                partial(instance_pb2_grpc.add_InstanceServicer_to_server, servicer),
                partial(
                    content_pb2_grpc.add_ContentServicer_to_server,
                    ContentServicer(self.contents, gateway=gateway, syncer=self.content_sync),
                ),
                partial(
                    content_pb2_grpc.add_ContentExchangeServicer_to_server,
                    ContentExchangeServicer(self.contents, self.content_imports),
                ),
            ],
            service_names=[SERVICE, CONTENT_SERVICE, CONTENT_EXCHANGE],
            policy=policy,
            metrics=self.metrics,
            metrics_listen=config.observability.metrics_listen,
            maximum_concurrent_rpcs=config.maximum_concurrent_rpcs,
        )

    async def start(self) -> str:
        """Install the default avatar (once) and serve; returns the bound "host:port"."""
        if self.config.default_avatar is not None:
            self.avatars.install_default_avatar(self.config.default_avatar)
        address = await self.server.start()
        self._clock = asyncio.create_task(self.process_actions.run_clock())
        self.assets.recover()  # every transfer not yet acknowledged is driven on to a terminal state
        if self.content_sync is not None:
            self.content_sync.start()  # what was queued before a stop is retried now
        if self.avatar_home is not None:
            self.avatar_home.start()
        return address

    def _gateway_stub(self) -> gateway_pb2_grpc.PlatformGatewayAsyncStub:
        """A stub on this instance's gateway (RI-1), over one channel made on first use."""
        assert self.config.gateway is not None
        if self._gateway_channel is None:
            self._gateway_channel = secure_channel(self.config.tls, self.config.gateway)
        return gateway_pb2_grpc.PlatformGatewayStub(self._gateway_channel)

    def _linked_home(self, process_id: str) -> str | None:
        """The home M-Instance of the linked identity ``process_id`` here, or None (FGMV-43 9.4 step 4)."""
        if "/processes/user/linked-" not in process_id:
            return None
        row = self.linked_identities.get(process_id)
        return row.home if row is not None else None

    def _held_item(self, item_id: str) -> Item:
        """An Item this M-Instance holds: in its Item store, else an Asset of its ledger;
        NotFound ``ITEM_NOT_FOUND``."""
        try:
            return self.store.get_item(item_id)
        except NotFound:
            pass
        try:
            return parse_item(self.ledger.asset(item_id).asset.item_json)
        except NotFound as err:
            raise NotFound(f"no Item {item_id[:256]} here", reason="ITEM_NOT_FOUND") from err

    async def _sync_home(self, change: spb.RoamingChange) -> spb.RoamingChange:
        """RI-1 SyncAvatarHome: a roaming change to its home, through this instance's gateway."""
        stub = self._gateway_stub()
        return await call(lambda: stub.SyncAvatarHome(change, timeout=15.0), attempts=1)

    async def _resolve(self, request: ProcessActionRequest) -> ProcessActionResponse:
        """Send a request for a Process of another M-Instance through this instance's gateway (RI-1)."""
        stub = self._gateway_stub()
        message = request_to_proto(request, m_instance_id=self.config.m_instance_id)
        return response_from_proto(await call(lambda: stub.Resolve(message)))

    async def register_manifesto(self, *, attempts: int = 20) -> str:
        """RI-5: register this instance's manifesto with its gateway; returns its id.

        Retries while the gateway is UNAVAILABLE (it may start after the instance).
        """
        if self.config.gateway is None:
            raise MmmfedError("no gateway configured", reason="NO_GATEWAY")
        async with secure_channel(self.config.tls, self.config.gateway) as channel:
            stub = gateway_pb2_grpc.PlatformGatewayStub(channel)
            resp = await call(lambda: stub.RegisterManifesto(self.manifesto), attempts=attempts)
        log.info("manifesto registered", extra={"manifesto_id": resp.manifesto_id})
        return str(resp.manifesto_id)

    async def register_when_gateway_answers(self, *, max_delay_s: float = 10.0) -> str:
        """RI-5 :meth:`register_manifesto`, retried for as long as the gateway is unreachable
        (UNAVAILABLE: not started yet, or restarting), with a backoff from 0.1 s doubling up to
        ``max_delay_s``. Each wait is logged (``waiting for the gateway``, at most one line per
        ``max_delay_s`` once the backoff is at its cap) with the reason the call failed, so an
        operator sees why the instance is not yet federated. Cancellation (SIGTERM) ends the wait.
        Any other refusal (e.g. PERMISSION_DENIED: the gateway does not admit this instance's
        certificate) is raised as its RemoteError."""
        assert self.config.gateway is not None
        delay_s = 0.1
        while True:
            try:
                return await self.register_manifesto(attempts=1)
            except RemoteError as err:
                if err.code not in RETRYABLE_CODES:
                    raise
                log.warning(
                    "waiting for the gateway",
                    extra={
                        "gateway": self.config.gateway.address,
                        "reason": err.reason,
                        "detail": err.message[:300],
                        "retry_in_s": round(delay_s, 1),
                    },
                )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, max_delay_s)

    async def stop(self) -> None:
        """Stop serving and close the store (idempotent)."""
        await self.server.stop()
        await self.assets.stop()
        if self.content_sync is not None:
            await self.content_sync.stop()
        if self.avatar_home is not None:
            await self.avatar_home.stop()
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None
        if self._gateway_channel is not None:
            await self._gateway_channel.close()
            self._gateway_channel = None
        self.process_actions.close()
        self.database.close()
        self.store.close()
        self._data_lock.release()

    async def run_forever(self) -> None:
        """Serve, register the manifesto with the gateway (RI-5), run until cancelled."""
        await self.start()
        try:
            if self.config.gateway is not None:
                await self.register_when_gateway_answers()
            await self.server.wait()
        except asyncio.CancelledError:
            pass
        finally:
            await self.stop()
