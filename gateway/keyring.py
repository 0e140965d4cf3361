"""The gateway's keyring: peers' verification keys, fetched from their key services (RE-5),
cached, de-duplicated, and refreshed when a key id is unknown (rate-limited) or the cache is old.

A rotation at a peer therefore needs nobody on this side: the first Item signed with the new key
makes the keyring refresh. Revocations are seen at the next refresh (at most ``max_age_s`` late),
with their reason (issue 12 item 4): a key revoked as ``compromised`` resolves for nothing checked
from its revocation on, whatever the proof's ``created``; a ``superseded`` one still resolves for
proofs created before it (:meth:`mmmfed.keys.PublicKeyRecord.usable_at`).

Replicas of one gateway share what they fetched (issue 6 item 1): given a ``cache`` (the gateway's
:class:`mmmfed.store.SharedState`), a refresh first looks there, and a fetch is written there with
a TTL of ``max_age_s``, as the verified records with the wall-clock time they were fetched, so
keys are never used later than ``max_age_s`` after a peer published them, whichever replica
fetched them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import MmmfedError, NotFound, PermissionDenied
from mmmfed.keys import COMPROMISED, SUPERSEDED, PublicKeyRecord, did_web_method, parse_did_web_method
from mmmfed.proofs import verify_document
from mmmfed.strictjson import parse_json

Fetch = Callable[[str], Awaitable[mpb.KeySet]]
KEY_SET_TYPE = "mmmfed/KeySet/v1"
# An unknown key id makes the keyring fetch a peer's key set again at most this often (seconds):
# a key the peer made just after our last fetch is learned within this time.
MIN_REFRESH_S = 5.0
CACHE_NAMESPACE = "keyring"
# KeySet's signed JSON carries VerificationKey.revocation_reason by its enum name (MessageToDict).
_WIRE_REASONS = {"KEY_REVOCATION_REASON_COMPROMISED": COMPROMISED, "KEY_REVOCATION_REASON_SUPERSEDED": SUPERSEDED}


class KeyCache(Protocol):
    """Where replicas share fetched key sets (:class:`mmmfed.store.SharedState` is one)."""

    async def put_cached(self, namespace: str, key: str, value: bytes, *, ttl_ms: int) -> None: ...

    async def get_cached(self, namespace: str, key: str) -> bytes | None: ...


def verified_key_set(key_set: mpb.KeySet, m_instance: str) -> list[PublicKeyRecord]:
    """The keys of a peer's KeySet, from its signed JSON form: it must name ``m_instance`` and
    carry a valid proof by one of the keys it lists. Each record keeps the revocation reason the
    peer published (``compromised`` for a revoked key without one). The mTLS channel already authenticates the
    peer's gateway; the signed form makes the list verifiable evidence of its own. Raises
    KeyUnavailable ``KEY_SET_INVALID``."""

    def invalid(message: str) -> KeyUnavailable:
        return KeyUnavailable(f"key set of {m_instance}: {message}", reason="KEY_SET_INVALID")

    try:
        doc = parse_json(key_set.signed_json)
    except MmmfedError as err:
        raise invalid(err.message) from err
    if not isinstance(doc, dict) or doc.get("Type") != KEY_SET_TYPE or doc.get("MInstanceID") != m_instance:
        raise invalid("not a signed key set of this M-Instance")
    try:
        # a revoked key without a reason (an older peer) or with one we do not know reads as
        # compromised: PublicKeyRecord.from_json fails closed
        records = [
            PublicKeyRecord.from_json({**k, "revocation_reason": _WIRE_REASONS.get(str(k.get("revocation_reason")))})
            for k in doc["Keys"]
        ]
        by_method = {did_web_method(m_instance, r.key_id): r.public_key for r in records}
    except (KeyError, TypeError, ValueError, MmmfedError) as err:
        raise invalid(f"malformed keys: {err}") from err

    def resolve(method: str) -> bytes:
        if method not in by_method:
            raise LookupError(method)
        return by_method[method]

    result = verify_document(doc, resolve_key=resolve, expected_proof_purpose="assertionMethod")
    if not result.verified:
        raise invalid(f"its proof does not verify: {result.reason}")
    return records


@dataclass
class _Entry:
    keys: dict[str, PublicKeyRecord] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    inflight: asyncio.Future[None] | None = None


class KeyUnavailable(MmmfedError):
    """A verification key could not be used (gRPC PERMISSION_DENIED): unknown, revoked, or not
    valid at the signing time. Reasons ``KEY_UNKNOWN``, ``KEY_REVOKED``, ``KEY_NOT_VALID_AT_TIME``,
    ``KEY_METHOD_MALFORMED``."""

    code = PermissionDenied.code


class Keyring:
    """Resolves ``did:web:<instance>#<key id>`` to an Ed25519 public key valid at a time.

    Args:
        fetch: M-Instance id -> its KeySet (the peer gateway's GetKeys); errors propagate.
        min_refresh_s: an unknown key id refreshes a peer at most this often.
        max_age_s: cached keys older than this are refreshed before use (revocations).
        clock: monotonic seconds (tests pass a fake).
        cache: the key cache shared by this gateway's replicas (None: this process only).
        wall_clock: Unix seconds, to age entries of ``cache`` (tests pass a fake).
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        min_refresh_s: float = MIN_REFRESH_S,
        max_age_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        cache: KeyCache | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._cache = cache
        self._wall_clock = wall_clock
        self.min_refresh_s = min_refresh_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self.fetches = 0

    async def resolve(
        self, verification_method: str, *, at_ms: int, expected_instance: str, now_ms: int | None = None
    ) -> bytes:
        """The public key of ``verification_method`` if it belongs to ``expected_instance`` and
        may verify, at ``now_ms`` (Unix ms, the verifier's clock; default ``wall_clock``), a
        signature made at ``at_ms`` (Unix ms, the proof's ``created``): a key revoked as
        ``compromised`` verifies nothing from its revocation on (issue 12 item 4). Raises
        KeyUnavailable."""
        try:
            m_instance, key_id = parse_did_web_method(verification_method)
        except MmmfedError as err:
            raise KeyUnavailable(err.message, reason="KEY_METHOD_MALFORMED") from err
        if m_instance != expected_instance:
            raise KeyUnavailable(
                f"{verification_method} is a key of {m_instance}, not of {expected_instance}", reason="KEY_UNKNOWN"
            )
        entry = self._entries.setdefault(m_instance, _Entry())
        age = self._clock() - entry.fetched_at
        stale = age > self.max_age_s
        unknown = key_id not in entry.keys and age >= self.min_refresh_s
        if stale or unknown:
            await self._refresh(m_instance, entry, key_id)
        record = entry.keys.get(key_id)
        if record is None:
            raise KeyUnavailable(f"{m_instance} publishes no key {key_id}", reason="KEY_UNKNOWN")
        checked_at_ms = int(self._wall_clock() * 1000) if now_ms is None else now_ms
        problem = record.usable_at(at_ms, verified_at_ms=checked_at_ms)
        if problem is not None:
            revoked = f" (it was {record.describe_revocation()})" if problem == "KEY_REVOKED" else ""
            raise KeyUnavailable(
                f"key {verification_method} cannot verify a signature made at {at_ms}{revoked}", reason=problem
            )
        return record.public_key

    def cached(self, m_instance: str) -> dict[str, PublicKeyRecord]:
        """key id -> record of what this keyring holds for ``m_instance`` now (a copy; empty
        before its first fetch): for diagnostics and tests."""
        entry = self._entries.get(m_instance)
        return dict(entry.keys) if entry is not None else {}

    async def _refresh(self, m_instance: str, entry: _Entry, key_id: str) -> None:
        """Take the replicas' shared copy if it is young enough and knows ``key_id``, else fetch;
        once even when many resolutions wait for the same peer (single flight)."""
        if entry.inflight is not None:
            await asyncio.shield(entry.inflight)
            return
        entry.inflight = asyncio.get_running_loop().create_future()
        try:
            shared = await self._shared(m_instance)
            if shared is not None and key_id in shared[0]:
                entry.keys, age_s = shared
            else:
                self.fetches += 1
                key_set = await self._fetch(m_instance)
                if key_set.m_instance_id != m_instance:
                    raise NotFound(f"key service answered for {key_set.m_instance_id}", reason="KEY_UNKNOWN")
                entry.keys, age_s = {r.key_id: r for r in verified_key_set(key_set, m_instance)}, 0.0
                await self._share(m_instance, entry.keys)
            entry.fetched_at = self._clock() - age_s
            entry.inflight.set_result(None)
        except BaseException as err:
            entry.fetched_at = self._clock()  # rate-limit retries after a failure too
            entry.inflight.set_exception(err)
            entry.inflight.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            entry.inflight = None

    async def _shared(self, m_instance: str) -> tuple[dict[str, PublicKeyRecord], float] | None:
        """The replicas' copy of ``m_instance``'s keys and its age (seconds), if any and younger
        than ``max_age_s``."""
        if self._cache is None:
            return None
        raw = await self._cache.get_cached(CACHE_NAMESPACE, m_instance)
        if raw is None:
            return None
        doc = json.loads(raw)
        age_s = max(0.0, self._wall_clock() - doc["FetchedAtMs"] / 1000)
        if age_s >= self.max_age_s:
            return None
        return {k["key_id"]: PublicKeyRecord.from_json(k) for k in doc["Keys"]}, age_s

    async def _share(self, m_instance: str, keys: dict[str, PublicKeyRecord]) -> None:
        if self._cache is None:
            return
        doc = {"FetchedAtMs": int(self._wall_clock() * 1000), "Keys": [asdict(r) for r in keys.values()]}
        ttl_ms = max(1, int(self.max_age_s * 1000))
        await self._cache.put_cached(CACHE_NAMESPACE, m_instance, json.dumps(doc).encode(), ttl_ms=ttl_ms)
