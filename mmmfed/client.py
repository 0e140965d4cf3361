"""The operator's client: register humans at an instance, negotiate and migrate through a
gateway, read Items back. Every failed call raises :class:`~mmmfed.errors.RemoteError`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.errors import FailedPrecondition, RemoteError, Unavailable
from mmmfed.items import instance_of, item_document, item_of, new_id
from mmmfed.rpc import call, decode_rpc_error
from mmmfed.streams import chunked
from mmmfed.tls import secure_channel


async def wait_serving(tls: TlsConfig, peer: PeerAddress, *, timeout_s: float = 20.0) -> None:
    """Wait until ``peer``'s health service says SERVING; Unavailable after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    async with secure_channel(tls, peer) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                resp = await stub.Check(  # type: ignore[attr-defined]  # types-grpcio-health-checking's HealthStub lists no methods
                    health_pb2.HealthCheckRequest(), timeout=1.0
                )
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise Unavailable(f"{peer.tls_name} at {peer.address} did not become ready in {timeout_s} s")
            await asyncio.sleep(0.1)


class OperatorClient:
    """Channels to one instance and its gateway, as an operator certificate holder."""

    def __init__(self, tls: TlsConfig, *, instance: PeerAddress, gateway: PeerAddress) -> None:
        self._instance_channel = secure_channel(tls, instance)
        self._gateway_channel = secure_channel(tls, gateway)
        self.instance = instance_pb2_grpc.InstanceStub(self._instance_channel)
        self.gateway = gateway_pb2_grpc.PlatformGatewayStub(self._gateway_channel)

    async def close(self) -> None:
        await self._instance_channel.close()
        await self._gateway_channel.close()

    async def __aenter__(self) -> OperatorClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def register_human(
        self, human_name: str, avatar: Path, *, display_name: str = "", licence: str = ""
    ) -> ipb.RegisterHumanResponse:
        """Register a human with ``avatar`` (a VRM or GLB file) at the instance."""
        data = await asyncio.to_thread(avatar.read_bytes)
        header = ipb.RegisterHumanHeader(
            human_name=human_name, display_name=display_name or human_name, file_name=avatar.name, licence=licence
        )

        async def requests() -> AsyncIterator[ipb.RegisterHumanRequest]:
            yield ipb.RegisterHumanRequest(header=header)
            for chunk in chunked(data):
                yield ipb.RegisterHumanRequest(chunk=chunk)

        return await call(lambda: self.instance.RegisterHuman(requests()), attempts=1)

    async def register_process(self, user_process_id: str) -> papb.ProcessActionResponse:
        """Register a human without a Persona yet: the App asks the Registration Service to
        Register them (MMM-TEC Register, through the instance's Inter-Process Protocol ``Act``)
        with a Personal Profile naming ``user_process_id`` (``mmm://<m>/processes/user/<name>`` or
        ``mmm://<m>/processes/<name>``) and no Personae. The User can at once hold Assets and
        Transact; an avatar comes with :meth:`register_human` (another name) or an Author.
        Returns the response: PA Status Ack, or Error Clash when the human is registered already
        (not raised). InvalidInput ``BAD_IDENTIFIER`` for an id that is not an mmm:// id."""
        m_instance_id = instance_of(user_process_id)
        human_name = user_process_id.rsplit("/", 1)[-1]
        user = user_process_id
        profile = item_document(
            m_instance_id=m_instance_id,
            item_id=new_id(m_instance_id, "profiles"),
            item_type="PPR",
            qualifier={"SubType": "PersonalProfile"},
            producer_process_id=f"mmm://{m_instance_id}/processes/app",
            extra={"ProcessID": user, "Personae": []},
            descr={"Name": human_name},
        )
        request = papb.ProcessActionRequest(
            header="MMM-PAC-V2.2",
            m_instance_id=m_instance_id,
            process_action_id=new_id(m_instance_id, "process-actions"),
            source_process_id=f"mmm://{m_instance_id}/processes/app",
            destination_process_id=f"mmm://{m_instance_id}/processes/registration",
            deontic_verb=papb.DEONTIC_VERB_MAY,
            action="Register",
            time_ms=int(time.time() * 1000),
            items_json=[item_of(profile).raw],  # carried in its V2.2 form
        )
        return await call(lambda: self.instance.Act(ipb.ActRequest(request=request)), attempts=1)

    async def negotiate(self, peer_id: str, *, wait_registered_s: float = 15.0) -> gpb.NegotiateResponse:
        """Negotiate with ``peer_id``, waiting while a manifesto is not yet registered."""
        deadline = time.monotonic() + wait_registered_s
        while True:
            try:
                return await call(lambda: self.gateway.Negotiate(gpb.NegotiateRequest(peer_m_instance_id=peer_id)))
            except RemoteError as err:
                if err.reason != "MANIFESTO_NOT_REGISTERED" or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def migrate(self, user_process_id: str, peer_id: str) -> gpb.MigrateAvatarResponse:
        """Migrate a User's avatar to ``peer_id`` (FGMV-43 9.1); a refusal is a REFUSED answer."""
        request = gpb.MigrateAvatarRequest(user_process_id=user_process_id, peer_m_instance_id=peer_id)
        return await call(lambda: self.gateway.MigrateAvatar(request), attempts=1)


async def read_item(stub: instance_pb2_grpc.InstanceAsyncStub, item_id: str) -> tuple[itpb.ItemEnvelope, bytes]:
    """An Item's envelope and its whole data from an instance."""
    envelope: itpb.ItemEnvelope | None = None
    parts: list[bytes] = []
    try:
        async for part in stub.ReadItem(ipb.ReadItemRequest(item_id=item_id)):
            if part.WhichOneof("part") == "envelope":
                envelope = part.envelope
            else:
                parts.append(part.chunk)
    except grpc.aio.AioRpcError as err:
        raise decode_rpc_error(err) from err
    if envelope is None:
        raise FailedPrecondition(f"instance sent no envelope for {item_id}", reason="READ_FAILED")
    return envelope, b"".join(parts)
