"""Avatars that come home, the gateway's part (FGMV-43 9.1 steps 5-7, AVSF; AVIR-103).

Visited side (B): its instance hands over a roaming User's change of appearance (RI-1
SyncAvatarHome); it goes to the User's home gateway (RE-1 SyncAvatar). B answers a revisiting
User's home whether it still holds the roaming avatar (RE-1 RecoverRoamingAvatar, AVIR-103).
Home side (A): a SyncAvatar is accepted only from a peer with an active agreement covering
avatars, for a User of this M-Instance, within its size bound; the peer it comes from is the
authenticated one (never the request's word), and the instance checks the avatar is visiting it
in that visit (9.1 step 7: A's MP receives the synchronisation request).
"""

from __future__ import annotations

import logging

from gateway.agreements import AVATAR_ACTION, AgreementBook
from gateway.channels import Channels
from mmmfed.api.v1 import avatar_sync_pb2 as spb
from mmmfed.errors import InvalidInput, PermissionDenied, RemoteError, TooLarge
from mmmfed.items import instance_or_none
from mmmfed.rpc import call

log = logging.getLogger(__name__)

MAX_CHANGE_BYTES = 256 * 1024  # one RoamingChange, as the instance bounds it too
CALL_TIMEOUT_S = 15.0


class AvatarSyncRelay:
    """Both sides of avatar synchronisation for one gateway."""

    def __init__(self, m_instance_id: str, channels: Channels, agreements: AgreementBook) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements

    # -- visited side (B) ---------------------------------------------------------------
    async def send_home(self, change: spb.RoamingChange) -> spb.RoamingChange:
        """RI-1 -> RE-1, 9.1 steps 5-6: send the instance's roaming change to the User's home.
        InvalidInput ``NOT_A_VISITOR`` for a User of this M-Instance; ResourceExhausted
        ``ROAMING_CHANGE_TOO_LARGE``; FailedPrecondition ``NO_AGREEMENT``/...; the home's
        refusal (e.g. ``NOT_VISITING``) passes through."""
        home = instance_or_none(change.home_user_process_id)
        if home is None or home == self._id:
            raise InvalidInput(f"{change.home_user_process_id[:256]!r} is not a visitor here", reason="NOT_A_VISITOR")
        _bounded(change)
        await self._agreements.require_active(home, item_type="ITM", action=AVATAR_ACTION)
        peer = self._channels.peer(home)
        return await call(lambda: peer.SyncAvatar(change, timeout=CALL_TIMEOUT_S), attempts=1)

    async def answer_recover(
        self, request: spb.RecoverRoamingAvatarRequest, peer_id: str
    ) -> spb.RecoverRoamingAvatarResponse:
        """RE-1, AVIR-103: whether the instance still holds the roaming avatar of ``peer_id``'s
        User. PermissionDenied ``ORIGIN_MISMATCH`` for a User of another M-Instance; InvalidInput ``BAD_PROCESS_ID``."""
        home = instance_or_none(request.home_user_process_id)
        if home is None:
            raise InvalidInput("name the revisiting User's ProcessID", reason="BAD_PROCESS_ID")
        if home != peer_id:
            raise PermissionDenied(
                f"{peer_id} may not ask for {request.home_user_process_id[:256]}", reason="ORIGIN_MISMATCH"
            )
        await self._agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)
        instance = self._channels.instance()
        return await call(lambda: instance.RecoverRoamingAvatar(request, timeout=CALL_TIMEOUT_S))

    # -- home side (A) ------------------------------------------------------------------
    async def receive(self, change: spb.RoamingChange, peer_id: str) -> spb.RoamingChange:
        """RE-1 SyncAvatar, 9.1 step 7: pass a peer's roaming change to the instance (RI-1
        ReceiveRoamingChange) as coming from ``peer_id``. InvalidInput ``ROAMING_CHANGE_MALFORMED``;
        PermissionDenied ``NOT_HOME_USER`` for a User of another M-Instance; ResourceExhausted
        ``ROAMING_CHANGE_TOO_LARGE``;
        FailedPrecondition ``NO_AGREEMENT``/...; the instance's ``NOT_VISITING``."""
        home = instance_or_none(change.home_user_process_id)
        if home is None:
            raise InvalidInput("a roaming change names its User's home ProcessID", reason="ROAMING_CHANGE_MALFORMED")
        if home != self._id:
            raise PermissionDenied(
                f"{change.home_user_process_id[:256]!r} is not a User of {self._id}", reason="NOT_HOME_USER"
            )
        _bounded(change)
        await self._agreements.require_active(peer_id, item_type="ITM", action=AVATAR_ACTION)
        received = spb.RoamingChange()
        received.CopyFrom(change)
        received.visited_m_instance_id = peer_id  # the authenticated peer, not the request's word
        instance = self._channels.instance()
        return await call(lambda: instance.ReceiveRoamingChange(received, timeout=CALL_TIMEOUT_S), attempts=1)

    async def recover_at(
        self, peer_id: str, user_process_id: str, home_item_id: str, version: spb.AvatarVersion, visit_id: str
    ) -> spb.RecoverRoamingAvatarResponse:
        """AVIR-103 from home: ask ``peer_id`` whether it still holds the roaming avatar made from
        the Persona ``home_item_id`` (then it wears ``version``'s attachments, in visit
        ``visit_id``). A peer that cannot answer (an older release, a failure) counts as not
        holding it: the migration then transfers as before."""
        request = spb.RecoverRoamingAvatarRequest(
            home_user_process_id=user_process_id, home_item_id=home_item_id, avatar_version=version, visit_id=visit_id
        )
        peer = self._channels.peer(peer_id)
        try:
            return await call(lambda: peer.RecoverRoamingAvatar(request, timeout=CALL_TIMEOUT_S), attempts=1)
        except RemoteError as err:
            log.info("peer did not recover the roaming avatar", extra={"peer": peer_id, "reason": err.reason})
            return spb.RecoverRoamingAvatarResponse(held=False)


def _bounded(change: spb.RoamingChange) -> None:
    if change.ByteSize() > MAX_CHANGE_BYTES:
        raise TooLarge(f"a roaming change is at most {MAX_CHANGE_BYTES} bytes", reason="ROAMING_CHANGE_TOO_LARGE")
