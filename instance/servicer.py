"""gRPC servicer of the reference M-Instance: decode, call :class:`AvatarService`, encode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from instance.avatars import AvatarService, receive
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import instance_pb2_grpc
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.items import Item
from mmmfed.streams import split_header


def envelope(item: Item) -> itpb.ItemEnvelope:
    return itpb.ItemEnvelope(item_json=item.raw)


class InstanceServicer(instance_pb2_grpc.InstanceServicer):
    """Implements ``mmmfed.api.v1.Instance`` (RI-1 and registration)."""

    def __init__(self, avatars: AvatarService, manifesto: mpb.Manifesto) -> None:
        self._avatars = avatars
        self._manifesto = manifesto

    async def RegisterHuman(
        self, request_iterator: AsyncIterator[ipb.RegisterHumanRequest], context: grpc.aio.ServicerContext
    ) -> ipb.RegisterHumanResponse:
        """Register a human from a streamed avatar file; INVALID_ARGUMENT (GLB_*, BAD_HUMAN_NAME,
        QUALIFIER_NOT_SUPPORTED), ALREADY_EXISTS, RESOURCE_EXHAUSTED.
        """
        header, chunks = await split_header(request_iterator)
        blob = await receive(chunks, self._avatars.stage())
        reg = self._avatars.register_human(
            human_name=header.human_name,
            display_name=header.display_name or header.human_name,
            file_name=header.file_name,
            licence=header.licence,
            blob=blob,
        )
        return ipb.RegisterHumanResponse(
            user_process_id=str(reg.user.doc["ProcessID"]),
            account_id=reg.account.item_id,
            personal_profile_id=reg.personal_profile.item_id,
            persona=envelope(reg.persona),
        )

    async def ExportAvatar(
        self, request: ipb.ExportAvatarRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[itpb.ItemPart]:
        """RI-1, FGMV-43 9.1 step 1: the Persona envelope, then its data; NOT_FOUND USER_NOT_FOUND /
        PERSONA_NOT_FOUND.
        """
        persona, chunks = self._avatars.export(request.user_process_id)
        yield itpb.ItemPart(envelope=envelope(persona))
        for chunk in chunks:
            yield itpb.ItemPart(chunk=chunk)

    async def ImportAvatar(
        self, request_iterator: AsyncIterator[ipb.ImportAvatarRequest], context: grpc.aio.ServicerContext
    ) -> ipb.ImportAvatarResponse:
        """RI-1, FGMV-43 9.1 step 4: header checked before data (QualNS, constraints), data checked as
        it arrives (size, digest) and after (GLB, format).
        """
        header, chunks = await split_header(request_iterator)
        persona = self._avatars.check_incoming(header.persona.item_json, header.home_user_process_id)
        binding = persona.data
        assert binding is not None  # check_incoming guarantees it
        writer = self._avatars.stage(expected_size=binding.size, expected_sha256=binding.sha256)
        blob = await receive(chunks, writer)
        imported = self._avatars.complete_import(persona, header.home_user_process_id, blob)
        return ipb.ImportAvatarResponse(
            roaming_user_process_id=str(imported.roaming_user.doc["ProcessID"]),
            persona=envelope(imported.persona),
            bytes_received=imported.bytes_received,
        )

    async def GetDefaultAvatar(
        self, request: ipb.GetDefaultAvatarRequest, context: grpc.aio.ServicerContext
    ) -> ipb.GetDefaultAvatarResponse:
        """RI-1, AVIR-001; FAILED_PRECONDITION NO_DEFAULT_AVATAR."""
        return ipb.GetDefaultAvatarResponse(persona=envelope(self._avatars.default_avatar()))

    async def GetManifesto(self, request: ipb.GetManifestoRequest, context: grpc.aio.ServicerContext) -> mpb.Manifesto:
        """This instance's platform manifesto (FGMV-43 9.5 step 1)."""
        return self._manifesto

    async def ReadItem(
        self, request: ipb.ReadItemRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[itpb.ItemPart]:
        """A stored Item's envelope, then its data; NOT_FOUND ITEM_NOT_FOUND."""
        item, chunks = self._avatars.read_item(request.item_id)
        yield itpb.ItemPart(envelope=envelope(item))
        for chunk in chunks:
            yield itpb.ItemPart(chunk=chunk)
