"""Identity synchronisation (IDSF, ITU FGMV-43 9.4 steps 5-7; issue 17 item 6), both sides: the
home gateway pushes the user's current credential to every platform the identity is linked to,
and keeps the changes a platform offers until the user settles them; a platform's gateway takes
the pushes and offers the changes the user made there.

**Home** (the user's M-Instance), RI-4 ``SyncIdentity`` for one of its User Processes
(``mmmfed identity sync PROCESS_ID [--accept ID | --reject ID]``):

1. the user's choice on a change offered from a platform: accepting re-issues the credential with
   the change's value (same key binding, status entry and validity; signed with the current
   key), rejecting keeps the home's value; a ``CONFLICT`` is settled the same way;
2. the profile version is taken (:meth:`mmmfed.identity.store.IdentityStore.observe_sync`: a
   credential re-issued by ``mmmfed identity issue`` with another name, comfort, languages, a
   revoked avatar or a changed Right is a new version, each changed claim recording it);
3. to each linked platform (``links.json``), with an active trust agreement covering identities:
   a nonce (RE-4 GetNonce), then RE-4 ``PushIdentityUpdate`` with a presentation of the current
   credential disclosing exactly the claims of the platform's consented scope that it still
   holds (no other Disclosure leaves), the version, and the status of the changes that platform
   offered (a conflict carries the home's value only when the field is in the scope). A platform
   refusing or unreachable is reported (``REFUSED`` / ``UNREACHABLE`` with the reason); the
   version it holds is recorded only when it took the push. The same push runs on its own
   (:mod:`gateway.identity_push`, from a durable queue per platform: :meth:`push_queued`); one
   push to a platform at a time, whichever started it, so versions reach it in order.

RE-4 ``OfferIdentityChange`` at home: the DID must be a user here linked to the calling platform
(``NOT_LINKED``); the change is kept (:meth:`mmmfed.identity.sync_state.SyncState.offer`),
``PENDING`` or ``CONFLICT`` when the home changed that claim after the version the platform held.

**Platform** (where the identity is linked): RE-4 ``PushIdentityUpdate`` is verified as a
presentation is (:meth:`gateway.identity_import.IdentityImport.verify_presentation`: issuer keys,
status, key binding, audience, nonce, this M-Instance's eligibility rules), then: the link must
exist (NotFound ``NOT_LINKED``), the version be at least the one held (FailedPrecondition
``VERSION_STALE``), every claim be in the consented scope (PermissionDenied ``SCOPE_EXCEEDED``),
and a user key other than the one linked be the one the home's DID document lists now, resolved
over RE-5 (PermissionDenied ``HOLDER_KEY_MISMATCH``); the linked claims become exactly those
presented. RI-4 ``SyncIdentity`` for a linked Process here records a change the user made here
(``--set comfort='{"motion": "reduced"}'``; name, languages or comfort only) with the version it
holds, offers it to the home, and lists the changes and their status; a change not yet taken
by the home (``OFFERED``) is offered again by the next sync. Settled changes are dropped when the
home's push tells of them. Everything is audited (rpc ``PushIdentityUpdate`` /
``OfferIdentityChange``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import grpc

from gateway.agreements import IDENTITY_ACTION, IDENTITY_TYPE, AgreementBook
from gateway.channels import Channels
from gateway.identity_import import IdentityImport, PeerMaterial
from gateway.identity_migration import IdentityMigration, document_keys, resolve_at_home
from gateway.outbox import Outbox, refusal_of
from gateway.transactions import MAX_ENTRIES, NOT_TAKEN
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import identity_pb2_grpc
from mmmfed.audit import ACCEPTED, REFUSED, draft_entry
from mmmfed.errors import (
    FailedPrecondition,
    InvalidInput,
    MmmfedError,
    NotFound,
    PermissionDenied,
    RemoteError,
    TooLarge,
)
from mmmfed.identity.claims import IdentityProfile
from mmmfed.identity.credential import Issuer, issue_credential
from mmmfed.identity.jose import public_key_from_jwk, read_jws
from mmmfed.identity.linked import MAX_ROAMING_CHANGES, LinkedIdentity
from mmmfed.identity.presentation import disclosable, present
from mmmfed.identity.push_queue import PushQueue
from mmmfed.identity.sdjwt import parse_disclosure
from mmmfed.identity.status_list import StatusReference
from mmmfed.identity.store import credential_digest
from mmmfed.identity.sync_state import (
    CONFLICT,
    MAX_VALUE_CHARS,
    OFFERED,
    OPEN,
    PENDING,
    SETTLED,
    Change,
    check_change,
)
from mmmfed.identity.user_did import parse_did, user_did
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog

SYNCED, REFUSED_OUTCOME, UNREACHABLE = "SYNCED", "REFUSED", "UNREACHABLE"
_UNREACHABLE_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

T = TypeVar("T")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _change_message(change: Change, home_value: Any = None) -> ipb.IdentityChange:
    return ipb.IdentityChange(
        change_id=change.change_id,
        peer_m_instance_id=change.peer,
        field=change.field,
        value_json=_json(change.value),
        base_version=change.base_version,
        status=change.status,
        home_value_json="" if home_value is None else _json(home_value),
    )


async def _offer_to(
    stub: identity_pb2_grpc.IdentityFederationAsyncStub, sent: ipb.OfferIdentityChangeRequest
) -> ipb.OfferIdentityChangeResponse:
    """One RE-4 OfferIdentityChange (no retry: the next sync offers it again)."""
    answer: ipb.OfferIdentityChangeResponse = await call(lambda: stub.OfferIdentityChange(sent), attempts=1)
    return answer


def link_behind(link: dict[str, Any], version: int, credential: str) -> bool:
    """Whether the platform of ``link`` (an entry of ``links.json``) lacks the home's profile
    ``version`` or its current credential (digest ``credential``): a credential re-issued with
    the same claims, another user key say, is pushed too. A link recorded without a digest (made
    before links kept one) counts as holding the current credential."""
    held = link.get("credential")
    return int(link.get("version", 0)) < version or (isinstance(held, str) and held != credential)


def _peer_value(text: str) -> Any:
    """A claim value the home sent as JSON (at most MAX_VALUE_CHARS), or None if none or unreadable."""
    if not text or len(text) > MAX_VALUE_CHARS:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Prepared:
    """One user's push, made and not yet answered."""

    user_id: str
    peer: str
    request: ipb.PushIdentityUpdateRequest
    credential: str  # its digest, recorded with the version once the peer took it
    disclose: list[str]
    told: frozenset[str]  # the settled changes the push tells of


def _peer_sync(outcome: ipb.PeerSync | MmmfedError, peer: str, link: dict[str, Any]) -> ipb.PeerSync:
    """A push's outcome as RI-4 reports it: the answer, or the error as ``UNREACHABLE`` (the peer
    down or timing out) or ``REFUSED`` with its reason and the version the peer still holds."""
    if isinstance(outcome, ipb.PeerSync):
        return outcome
    unreachable = outcome.code in _UNREACHABLE_CODES
    return ipb.PeerSync(
        peer_m_instance_id=peer,
        version=int(link.get("version", 0)),
        outcome=UNREACHABLE if unreachable else REFUSED_OUTCOME,
        reason=outcome.reason,
    )


class IdentitySync:
    """Both sides of identity synchronisation for one gateway (module docstring)."""

    def __init__(
        self,
        migration: IdentityMigration,
        importer: IdentityImport,
        *,
        m_instance_id: str,
        channels: Channels,
        agreements: AgreementBook,
        keys: InstanceKeyStore,
        audit: SharedAuditLog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._home = migration
        self._import = importer
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements
        self._keys = keys
        self._audit = audit
        self._clock = clock
        self.queue: PushQueue | None = None  # the worker's queue (gateway/identity_push.py), if one runs
        self.outbox: Outbox | None = None  # identity lanes of federation transactions (set by the node)
        self._by_single_calls: set[str] = set()  # peers that take no identity entries in transactions
        self._push_locks: dict[str, asyncio.Lock] = {}  # per peer (bounded by the configuration)

    async def _audited(self, rpc: str, peer: str, subject: str, work: Awaitable[T]) -> T:
        try:
            result = await work
        except MmmfedError as err:
            details: dict[str, object] = {"rpc": rpc, "message": err.message[:500]}
            await self._audit.append(
                REFUSED, peer_id=peer[:256], subject=subject[:256], reason=err.reason, details=details
            )
            raise
        await self._audit.append(ACCEPTED, peer_id=peer[:256], subject=subject[:256], details={"rpc": rpc})
        return result

    # -- RI-4 SyncIdentity --------------------------------------------------------------------
    async def sync(self, request: ipb.SyncIdentityRequest) -> ipb.SyncIdentityResponse:
        """RI-4 (module docstring): the home side for a User Process of this M-Instance, the
        platform side for a linked Process here. InvalidInput ``SYNC_ARGUMENTS`` for arguments of
        the other side (or both --accept and --reject), and the errors of each side."""
        linked = self._import.linked.by_process(request.process_id)
        if linked is not None:
            if request.accept or request.reject:
                raise InvalidInput(
                    f"the user settles changes at their home, {linked.home}, not here", reason="SYNC_ARGUMENTS"
                )
            return await self._platform_sync(linked, request)
        if request.process_id.startswith(f"mmm://{self._id}/processes/user/linked-"):
            raise NotFound(f"{self._id} holds no identity linked as {request.process_id[:256]}", reason="NOT_LINKED")
        if request.set_field or request.set_value_json:
            raise InvalidInput(
                "a change is set at the platform the user visits (sync its linked Process there); "
                "at home, re-issue the credential (`mmmfed identity issue`)",
                reason="SYNC_ARGUMENTS",
            )
        if request.accept and request.reject:
            raise InvalidInput("accept or reject one change, not both", reason="SYNC_ARGUMENTS")
        return await self._home_sync(request)

    # -- home ---------------------------------------------------------------------------------
    def _claims(self, user_id: str) -> dict[str, Any]:
        return {d.name: d.value for d in map(parse_disclosure, self._home.store.credential(user_id).disclosures)}

    def _reissue(self, user_id: str, did: str, field_name: str, value: Any) -> None:
        """Re-issue the user's credential with ``field_name`` = ``value`` (module docstring, 1)."""
        store = self._home.store
        credential = store.credential(user_id)
        payload = read_jws(credential.issuer_jwt, reason="CREDENTIAL_MALFORMED").payload
        claims = self._claims(user_id) | {field_name: value}
        ref = payload["status"]["status_list"]
        now_s = int(self._clock())
        holder = store.user_key(user_id, did=did, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s)))
        record, key = self._keys.current()
        fresh = issue_credential(
            IdentityProfile.from_claims(claims),
            issuer=Issuer(self._id, record, key),
            subject_did=did,
            holder=holder,
            status=StatusReference(int(ref["idx"]), str(ref["uri"])),
            issued_at_s=now_s,
            valid_for_s=max(1, int(payload["exp"]) - int(payload["iat"])),
        )
        store.save_credential(user_id, fresh)

    async def _home_sync(self, request: ipb.SyncIdentityRequest) -> ipb.SyncIdentityResponse:
        user_id, did = self._home.user_of(request.process_id)
        store = self._home.store
        state = store.observe_sync(user_id)  # CREDENTIAL_UNKNOWN
        settled: list[Change] = []
        chosen = request.accept or request.reject
        if chosen:
            change = state.changes.get(chosen)
            if change is None:
                raise NotFound(f"no change {chosen[:80]!r} awaits {request.process_id[:256]}", reason="CHANGE_UNKNOWN")
            if change.status not in OPEN:
                raise FailedPrecondition(f"change {chosen} was {change.status} already", reason="CHANGE_SETTLED")
            if request.accept:
                self._reissue(user_id, did, change.field, change.value)  # before the status: a failure settles nothing
            settled.append(state.settle(chosen, accept=bool(request.accept)))
            store.save_sync_state(user_id, state)
            state = store.observe_sync(user_id)  # the new version; other open changes of the field conflict now
        peers = [await self._push(user_id, did, peer, link) for peer, link in sorted(store.links(user_id).items())]
        state = store.sync_state(user_id)
        shown = {c.change_id: c for c in settled} | state.changes
        return ipb.SyncIdentityResponse(
            did=did,
            version=state.version,
            peers=peers,
            changes=[_change_message(c) for c in sorted(shown.values(), key=lambda c: (c.offered_at_s, c.change_id))],
        )

    async def push_queued(self, user_id: str, peer: str) -> ipb.PeerSync | None:
        """:meth:`push_queued_batch` for one user."""
        return (await self.push_queued_batch(peer, [user_id]))[0]

    async def push_queued_batch(self, peer: str, user_ids: Sequence[str]) -> list[ipb.PeerSync | None]:
        """Push each of ``user_ids``' current credential to ``peer`` as :meth:`_push` does, for the
        push worker (:mod:`gateway.identity_push`), all of them in one federation transaction
        (at most :data:`~gateway.transactions.MAX_ENTRIES` users): per user, in order, None if
        the user is no longer linked to ``peer``, a ``SYNCED`` answer without any call when
        ``peer`` holds the current version already. Never raises for the peer's refusal or
        absence (``outcome`` and ``reason`` say it)."""
        if len(user_ids) > MAX_ENTRIES:
            raise InvalidInput(f"push at most {MAX_ENTRIES} users at a time", reason="TOO_MANY_USERS")
        lock = self._push_locks.setdefault(peer, asyncio.Lock())
        async with lock:
            answers: list[ipb.PeerSync | None] = []
            due: dict[int, tuple[str, dict[str, Any]]] = {}  # index in user_ids: (user, link)
            for index, user_id in enumerate(user_ids):
                answer, link = self._push_due(user_id, peer)
                answers.append(answer)
                if link is not None:
                    due[index] = (user_id, link)
            for index, pushed in zip(due, await self._push_many(peer, list(due.values())), strict=True):
                answers[index] = pushed
            if self.queue is not None:  # the entries of what peer holds now go, in one write
                synced = zip(user_ids, answers, strict=True)
                self.queue.done_all(peer, [(u, a.version) for u, a in synced if a is not None and a.outcome == SYNCED])
            return answers

    def _push_due(self, user_id: str, peer: str) -> tuple[ipb.PeerSync | None, dict[str, Any] | None]:
        """(the answer without a push, None) or (None, the link to push to); (None, None) when
        ``user_id`` is not linked to ``peer``."""
        store = self._home.store
        try:
            state = store.observe_sync(user_id)
        except MmmfedError as err:  # CREDENTIAL_UNKNOWN: nothing to push
            return ipb.PeerSync(peer_m_instance_id=peer, outcome=REFUSED_OUTCOME, reason=err.reason), None
        link = store.links(user_id).get(peer)
        if link is None:
            return None, None
        held = int(link.get("version", 0))
        if not link_behind(link, state.version, credential_digest(store.credential(user_id))):
            return ipb.PeerSync(peer_m_instance_id=peer, version=held, outcome=SYNCED), None
        return None, link

    async def _push(self, user_id: str, did: str, peer: str, link: dict[str, Any]) -> ipb.PeerSync:
        """Push the current credential to ``peer`` within its scope (module docstring, 3); one
        push to a peer at a time (the worker's and RI-4's), so versions reach it in order. A
        push the peer took ends the user's entry in the push queue."""
        lock = self._push_locks.setdefault(peer, asyncio.Lock())
        async with lock:
            current = self._home.store.links(user_id).get(peer)  # re-read: unlinked meanwhile?
            if current is None:
                return ipb.PeerSync(
                    peer_m_instance_id=peer,
                    version=int(link.get("version", 0)),
                    outcome=REFUSED_OUTCOME,
                    reason="NOT_LINKED",
                )
            answer = (await self._push_many(peer, [(user_id, current)]))[0]
        if answer.outcome == SYNCED and self.queue is not None:
            self.queue.done(peer, user_id, answer.version)
        return answer

    async def _push_many(self, peer: str, due: Sequence[tuple[str, dict[str, Any]]]) -> list[ipb.PeerSync]:
        """Push each (user, link) of ``due`` (module docstring, 3): one RE-4 GetNonce for all of
        them, then one federation transaction (:attr:`outbox`; without one, a PushIdentityUpdate
        each). A push the peer took records the version it holds (its queue entry is the caller's
        to end). Every outcome is audited here, in one group commit (rpc ``PushIdentityUpdate``)."""
        if not due:
            return []
        outcomes: dict[int, ipb.PeerSync | MmmfedError] = {}
        prepared: dict[int, _Prepared] = {}
        try:
            await self._agreements.require_active(peer, item_type=IDENTITY_TYPE, action=IDENTITY_ACTION)
            nonces = await self._nonces(peer, len(due))
            for index, ((user_id, link), nonce) in enumerate(zip(due, nonces, strict=True)):
                try:
                    prepared[index] = self._prepare(user_id, peer, link, nonce)
                except MmmfedError as err:
                    outcomes[index] = err
            for index, sent in zip(prepared, await self._send(peer, list(prepared.values())), strict=True):
                outcomes[index] = sent if isinstance(sent, MmmfedError) else self._settle(prepared[index], sent)
        except MmmfedError as err:  # nothing answered: each user's push failed with it
            outcomes = {index: outcomes.get(index, err) for index in range(len(due))}
        answers = [_peer_sync(outcomes[index], peer, link) for index, (_, link) in enumerate(due)]
        drafts = []
        for index, ((user_id, _), answer) in enumerate(zip(due, answers, strict=True)):
            details: dict[str, object] = {"rpc": "PushIdentityUpdate"}
            outcome = outcomes[index]
            if isinstance(outcome, MmmfedError):
                details["message"] = outcome.message[:500]
            event = ACCEPTED if answer.outcome == SYNCED else REFUSED
            subject = user_did(self._id, user_id)[:256]
            drafts.append(
                draft_entry(event, peer_id=peer[:256], subject=subject, reason=answer.reason, details=details)
            )
        await self._audit.append_all(drafts)
        return answers

    async def _nonces(self, peer: str, count: int) -> list[str]:
        """``count`` nonces of ``peer`` (RE-4 GetNonce with ``count``; a peer that gives fewer is
        asked again for the rest)."""
        stub = self._channels.identity_peer(peer)
        nonces: list[str] = []
        while len(nonces) < count:
            ask = ipb.GetIdentityNonceRequest(count=count - len(nonces))
            given = await call(partial(stub.GetNonce, ask))
            nonces.extend(list(given.nonces)[: count - len(nonces)] or [given.nonce])
        return nonces

    def _prepare(self, user_id: str, peer: str, link: dict[str, Any], nonce: str) -> _Prepared:
        """The PushIdentityUpdate for ``user_id``: a presentation bound to ``peer`` and ``nonce``
        disclosing the consented claims the credential still holds, the version, the status of
        the changes ``peer`` offered (module docstring, 3)."""
        store = self._home.store
        state = store.sync_state(user_id)
        credential = store.credential(user_id)
        scope = set(link.get("disclosed", ()))
        disclose = sorted(scope & set(disclosable(credential)))
        in_scope = {k: v for k, v in self._claims(user_id).items() if k in scope}
        offered = state.of_peer(peer)
        changes = [_change_message(c, in_scope.get(c.field) if c.status == CONFLICT else None) for c in offered]
        shown = present(
            credential,
            disclose=disclose,
            audience=peer,
            nonce=nonce,
            holder_key=store.held_key(user_id),
            iat_s=int(self._clock()),
        )
        request = ipb.PushIdentityUpdateRequest(
            did=user_did(self._id, user_id), presentation=shown.serialize(), version=state.version, changes=changes
        )
        told = frozenset(c.change_id for c in offered if c.status in SETTLED)
        return _Prepared(user_id, peer, request, credential_digest(credential), disclose, told)

    async def _send(self, peer: str, prepared: list[_Prepared]) -> list[ipb.PushIdentityUpdateResponse | MmmfedError]:
        """Each push's answer, or the peer's refusal of it (RemoteError with its code and reason).
        A peer that takes no identity entries (:data:`~gateway.transactions.NOT_TAKEN`: nothing
        of them was checked, so their nonces are unused) gets them, and every later push, by
        PushIdentityUpdate."""
        single = list(range(len(prepared)))
        answers: list[ipb.PushIdentityUpdateResponse | MmmfedError] = []
        if self.outbox is not None and peer not in self._by_single_calls and prepared:
            entries = [fpb.FederationEntry(identity_update=one.request) for one in prepared]
            results = await self.outbox.send(peer, entries)
            answers = [r.identity_update_response if r.accepted else refusal_of(r) for r in results]
            single = [i for i, r in enumerate(results) if not r.accepted and r.reason in NOT_TAKEN]
            if not single:
                return answers
            self._by_single_calls.add(peer)  # bounded by the configured peers
        answers = answers or [MmmfedError("not sent")] * len(prepared)
        stub = self._channels.identity_peer(peer)
        for i in single:
            try:
                answers[i] = await call(partial(stub.PushIdentityUpdate, prepared[i].request), attempts=1)
            except MmmfedError as err:
                answers[i] = err
        return answers

    def _settle(self, prepared: _Prepared, answer: ipb.PushIdentityUpdateResponse) -> ipb.PeerSync:
        """``peer`` took the push: record the version it holds, drop the settled changes it was told of."""
        store, peer = self._home.store, prepared.peer
        store.set_link_version(prepared.user_id, peer, prepared.request.version, credential=prepared.credential)
        after = store.sync_state(prepared.user_id)  # re-read: an offer may have come in meanwhile
        for change_id in prepared.told:
            after.changes.pop(change_id, None)
        store.save_sync_state(prepared.user_id, after)
        stored = sorted(set(answer.stored_claims) & set(prepared.disclose))
        return ipb.PeerSync(peer_m_instance_id=peer, version=prepared.request.version, outcome=SYNCED, claims=stored)

    async def offer(self, request: ipb.OfferIdentityChangeRequest, peer: str) -> ipb.OfferIdentityChangeResponse:
        """RE-4 OfferIdentityChange from ``peer`` (module docstring). InvalidInput ``DID_INVALID``
        and the errors of :meth:`SyncState.offer`; NotFound ``DID_UNKNOWN`` / ``NOT_LINKED`` /
        ``CREDENTIAL_UNKNOWN``. Audited."""
        return await self._audited("OfferIdentityChange", peer, request.did, self._offer(request, peer))

    async def _offer(self, request: ipb.OfferIdentityChangeRequest, peer: str) -> ipb.OfferIdentityChangeResponse:
        host, user_id = parse_did(request.did)
        if user_id is None or host != self._id:
            raise NotFound(f"{request.did[:256]} is not a user of {self._id}", reason="DID_UNKNOWN")
        store = self._home.store
        link = store.links(user_id).get(peer)
        if link is None:
            raise NotFound(f"{request.did[:256]} is not linked to {peer}", reason="NOT_LINKED")
        state = store.observe_sync(user_id)
        change = state.offer(
            peer, request.change_id, request.field, request.value_json, request.base_version, now_s=int(self._clock())
        )
        store.save_sync_state(user_id, state)
        home_value = ""
        if change.status == CONFLICT and change.field in link.get("disclosed", ()):
            current = self._claims(user_id)
            home_value = _json(current[change.field]) if change.field in current else ""
        return ipb.OfferIdentityChangeResponse(
            change_id=change.change_id, status=change.status, home_version=state.version, home_value_json=home_value
        )

    # -- platform -----------------------------------------------------------------------------
    def _platform_answer(self, record: LinkedIdentity) -> ipb.SyncIdentityResponse:
        changes = []
        for change_id, c in sorted(record.roaming.items(), key=lambda kv: (kv[1]["made_at_s"], kv[0])):
            home_value = c.get("home_value")
            changes.append(
                ipb.IdentityChange(
                    change_id=change_id,
                    peer_m_instance_id=self._id,
                    field=c["field"],
                    value_json=_json(c["value"]),
                    base_version=c["base_version"],
                    status=c["status"],
                    home_value_json="" if home_value is None else _json(home_value),
                )
            )
        return ipb.SyncIdentityResponse(
            did=record.did, version=record.version, changes=changes, claims=sorted(record.claims)
        )

    async def _platform_sync(
        self, record: LinkedIdentity, request: ipb.SyncIdentityRequest
    ) -> ipb.SyncIdentityResponse:
        new_id = ""
        if request.set_field or request.set_value_json:
            value = check_change(request.set_field, request.set_value_json)
            if len(record.roaming) >= MAX_ROAMING_CHANGES:
                raise TooLarge(
                    f"{MAX_ROAMING_CHANGES} changes of {record.did[:256]} await {record.home}; settle them there first",
                    reason="ROAMING_CHANGES_FULL",
                )
            new_id = secrets.token_urlsafe(12)
            record.roaming[new_id] = {
                "field": request.set_field,
                "value": value,
                "base_version": record.version,
                "status": OFFERED,
                "home_value": None,
                "made_at_s": int(self._clock()),
            }
            self._import.linked.save(record)
        for change_id, c in sorted(record.roaming.items()):
            if c["status"] != OFFERED:
                continue
            sent = ipb.OfferIdentityChangeRequest(
                did=record.did,
                change_id=change_id,
                field=c["field"],
                value_json=_json(c["value"]),
                base_version=c["base_version"],
            )
            stub = self._channels.identity_peer(record.home)
            try:
                answer = await _offer_to(stub, sent)
            except RemoteError as err:
                if err.code in _UNREACHABLE_CODES:
                    continue  # stays OFFERED: the next sync offers it again
                current = self._import.linked.get(record.home, record.did)
                if current is not None and current.roaming.pop(change_id, None) is not None:
                    self._import.linked.save(current)
                raise
            current = self._import.linked.get(record.home, record.did)  # re-read: a push may have come in
            if current is not None and change_id in current.roaming:
                current.roaming[change_id]["status"] = (
                    answer.status if answer.status in (PENDING, CONFLICT) else OFFERED
                )
                current.roaming[change_id]["home_value"] = _peer_value(answer.home_value_json)
                self._import.linked.save(current)
        final = self._import.linked.get(record.home, record.did)
        if final is None:
            raise NotFound(f"{record.did[:256]} is no longer linked here", reason="NOT_LINKED")
        return self._platform_answer(final)

    async def push_update(self, request: ipb.PushIdentityUpdateRequest, peer: str) -> ipb.PushIdentityUpdateResponse:
        """RE-4 PushIdentityUpdate from the home ``peer`` (module docstring). Audited."""
        return await self._audited("PushIdentityUpdate", peer, request.did, self._push_update(request, peer))

    async def apply_update(
        self, request: ipb.PushIdentityUpdateRequest, peer: str, material: PeerMaterial
    ) -> ipb.PushIdentityUpdateResponse:
        """An identity update the home ``peer`` sent in a federation transaction
        (:mod:`gateway.transactions`, which audits it): checked and applied as
        :meth:`push_update` does, raising its refusals; ``peer``'s keys and status list are
        fetched once per ``material`` (one per transaction)."""
        return await self._push_update(request, peer, material)

    async def _push_update(
        self, request: ipb.PushIdentityUpdateRequest, peer: str, material: PeerMaterial | None = None
    ) -> ipb.PushIdentityUpdateResponse:
        self._import.check_did(request.did, peer)
        linked = self._import.linked
        record = linked.get(peer, request.did)
        if record is None:
            raise NotFound(f"{self._id} holds no identity linked to {request.did[:256]}", reason="NOT_LINKED")
        if request.version < record.version:
            raise FailedPrecondition(
                f"version {request.version} is older than the version {record.version} held here",
                reason="VERSION_STALE",
            )
        verified = await self._import.verify_presentation(request.presentation, request.did, peer, material)
        outside = sorted(set(verified.disclosed) - set(record.scope))
        if outside:
            raise PermissionDenied(
                f"{', '.join(outside)[:300]} {'is' if len(outside) == 1 else 'are'} outside the scope the user "
                f"consented to here ({', '.join(record.scope)}); nothing was stored",
                reason="SCOPE_EXCEEDED",
            )
        if verified.holder_jwk != record.holder_jwk:  # a new user key: the home's DID document must list it
            listed = document_keys(await resolve_at_home(self._channels, request.did))
            if public_key_from_jwk(verified.holder_jwk) not in listed:
                raise PermissionDenied(
                    f"the credential binds a key that {peer}'s DID document of {request.did[:256]} does not list",
                    reason="HOLDER_KEY_MISMATCH",
                )
        current = linked.get(peer, request.did)  # re-read after the calls
        if current is None:
            raise NotFound(f"{request.did[:256]} was unlinked meanwhile", reason="NOT_LINKED")
        roaming = dict(current.roaming)
        for change in request.changes:
            mine = roaming.get(change.change_id)
            if mine is None:
                continue
            if change.status in SETTLED:
                del roaming[change.change_id]
            elif change.status in (PENDING, CONFLICT):
                mine["status"] = change.status
                mine["home_value"] = _peer_value(change.home_value_json)
        updated = dataclasses.replace(
            current,
            claims=dict(verified.disclosed),
            holder_jwk=dict(verified.holder_jwk),
            credential_expires_s=verified.expires_s,
            admission=verified.admission,
            version=request.version,
            roaming=roaming,
        )
        # 9.4 step 4 kept: the Process at this M-Instance holds the re-issued claims and the Rights
        # of the admission now, before the link says so (a refusal there stores nothing here)
        await self._import.hand_to_instance(
            peer, request.did, claims=dict(verified.disclosed), admission=verified.admission
        )
        linked.save(updated)
        return ipb.PushIdentityUpdateResponse(
            process_id=updated.process_id, version=updated.version, stored_claims=sorted(updated.claims)
        )
