"""Signed checkpoints of the audit chain (issue 12 item 7; the model: Certificate Transparency's
signed tree heads, RFC 6962 3.5).

A checkpoint is what a gateway says its log was at a time, signed by its M-Instance's key
(eddsa-jcs-2022, ``assertionMethod``, verification method ``did:web:<m_instance>#<key id>``)::

    {"Type": "mmmfed/AuditCheckpoint/v1", "MInstanceID": "a.example",
     "Size": 42,                 # entries in the log (the head's seq); 0 for an empty log
     "HeadHash": "<64 hex>",     # hash of entry ``Size`` (GENESIS_HASH when Size is 0)
     "TimeMs": 1767225600000,    # when it was signed, Unix ms
     "proof": {...}}

A peer keeps the last one it saw. Whoever holds one can later hold the gateway to it
(:func:`check_log_against`): a log with fewer than ``Size`` entries lost its tail
(``AUDIT_TRUNCATED``); one whose entry ``Size`` does not hash to ``HeadHash`` was rewritten
(``AUDIT_REWRITTEN``); a log that grew must still chain from entry ``Size`` to its new head (the
chain walk, whose reasons are :mod:`mmmfed.audit.chain`'s). Unlike CT, a peer sees only its own
entries, so between two checkpoints it can check only that ``Size`` never shrinks and that the same
``Size`` keeps the same ``HeadHash`` (:func:`check_successor`); the full consistency check is the
operator's, against the whole log (``mmmfed audit verify --checkpoint F``).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mmmfed.audit.entries import GENESIS_HASH, MAX_SAFE_INT, AuditEntry, is_int
from mmmfed.errors import DataIntegrityError, InvalidInput, MmmfedError, PermissionDenied
from mmmfed.items import proof_time
from mmmfed.keys import InstanceKeyStore, PublicKeyRecord, did_web_method
from mmmfed.proofs import sign_document, verify_document

CHECKPOINT_TYPE = "mmmfed/AuditCheckpoint/v1"
AUDIT_TRUNCATED = "AUDIT_TRUNCATED"
AUDIT_REWRITTEN = "AUDIT_REWRITTEN"
CHECKPOINT_SIGNATURE_INVALID = "CHECKPOINT_SIGNATURE_INVALID"
CHECKPOINT_MALFORMED = "CHECKPOINT_MALFORMED"
MAX_CHECKPOINT_BYTES = 16 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint (module docstring); ``signed_json`` is the exact bytes received or
    signed, which is what is kept and verified (never a re-serialisation)."""

    m_instance_id: str
    size: int
    head_hash: str
    time_ms: int
    signed_json: bytes
    document: Mapping[str, Any]


class CheckpointRefused(MmmfedError):
    """A checkpoint that does not verify (gRPC PERMISSION_DENIED), reason
    ``CHECKPOINT_SIGNATURE_INVALID``: no valid proof by a key of the M-Instance it names, or it
    names another M-Instance than expected."""

    code = PermissionDenied.code


class AuditTailBroken(DataIntegrityError):
    """The log does not hold what a checkpoint says it held (gRPC DATA_LOSS): reason
    ``AUDIT_TRUNCATED`` or ``AUDIT_REWRITTEN``."""


def sign_checkpoint(keys: InstanceKeyStore, head: AuditEntry | None, *, time_ms: int | None = None) -> bytes:
    """The signed checkpoint JSON (UTF-8 bytes) of a log whose newest entry is ``head`` (None:
    empty), signed with ``keys``'s current key; ``time_ms`` defaults to now (Unix ms).
    FailedPrecondition ``NO_SIGNING_KEY`` if the M-Instance has no usable key."""
    doc = {
        "Type": CHECKPOINT_TYPE,
        "MInstanceID": keys.m_instance_id,
        "Size": head.seq if head else 0,
        "HeadHash": head.hash if head else GENESIS_HASH,
        "TimeMs": int(time.time() * 1000) if time_ms is None else time_ms,
    }
    record, key = keys.current()
    signed = sign_document(doc, key=key, verification_method=keys.method(record), created=proof_time())
    return json.dumps(signed, separators=(",", ":"), sort_keys=True).encode()


def parse_checkpoint(raw: bytes) -> Checkpoint:
    """``raw`` (signed checkpoint JSON) as a :class:`Checkpoint`, signature NOT yet checked.
    InvalidInput ``CHECKPOINT_MALFORMED`` if it is not one (too big, not JSON, a field missing
    or of the wrong type)."""

    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"not an audit checkpoint: {message}", reason=CHECKPOINT_MALFORMED)

    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise bad(f"{len(raw)} bytes, more than {MAX_CHECKPOINT_BYTES}")
    try:
        doc = json.loads(raw)
    except ValueError as err:  # also UnicodeDecodeError
        raise bad(str(err)) from err
    if not isinstance(doc, dict) or doc.get("Type") != CHECKPOINT_TYPE:
        raise bad(f"Type is not {CHECKPOINT_TYPE}")
    m_instance, size, head, when = (doc.get(k) for k in ("MInstanceID", "Size", "HeadHash", "TimeMs"))
    if not isinstance(m_instance, str) or not m_instance:
        raise bad("MInstanceID must be a non-empty string")
    if not (is_int(size) and 0 <= size <= MAX_SAFE_INT and is_int(when) and 0 <= when <= MAX_SAFE_INT):
        raise bad("Size and TimeMs must be integers in 0..2**53-1")
    if not (isinstance(head, str) and len(head) == 64 and all(c in "0123456789abcdef" for c in head)):
        raise bad("HeadHash must be 64 lower-case hex digits")
    if not isinstance(doc.get("proof"), dict):
        raise bad("it carries no proof")
    return Checkpoint(m_instance, size, head, when, bytes(raw), doc)


def proof_method_and_time(checkpoint: Checkpoint) -> tuple[str, int]:
    """The proof's verification method and ``created`` (Unix ms): what a keyring is asked for.
    CheckpointRefused ``CHECKPOINT_SIGNATURE_INVALID`` if either is missing or malformed."""
    proof = checkpoint.document["proof"]
    method, created = proof.get("verificationMethod"), proof.get("created")
    try:
        parsed = datetime.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError as err:
        raise _refused(f"its proof's created {created!r} is not a time") from err
    if not isinstance(method, str) or parsed.tzinfo is None:
        raise _refused("its proof names no verification method or time zone")
    return method, int(parsed.timestamp() * 1000)


def verify_checkpoint(checkpoint: Checkpoint, *, m_instance_id: str, resolve_key: Callable[[str], bytes]) -> None:
    """Check that ``checkpoint`` is ``m_instance_id``'s and carries a valid proof by a key
    ``resolve_key(verification_method) -> 32-byte Ed25519 key`` gives (it raises LookupError or
    MmmfedError for a key it will not give). CheckpointRefused ``CHECKPOINT_SIGNATURE_INVALID``."""
    if checkpoint.m_instance_id != m_instance_id:
        raise _refused(f"it is {checkpoint.m_instance_id}'s, not {m_instance_id}'s")
    document = dict(checkpoint.document)
    result = verify_document(document, resolve_key=resolve_key, expected_proof_purpose="assertionMethod")
    if not result.verified:
        raise _refused(f"its proof does not verify: {result.reason}")


def own_key_resolver(keys: InstanceKeyStore, *, at_ms: int) -> Callable[[str], bytes]:
    """A ``resolve_key`` over this M-Instance's own published keys (``keys.json``), for a proof
    made at ``at_ms``: a revoked key, or one not valid then, is not given."""
    by_method: dict[str, PublicKeyRecord] = {did_web_method(keys.m_instance_id, r.key_id): r for r in keys.records()}

    def resolve(method: str) -> bytes:
        record = by_method.get(method)
        if record is None:
            raise LookupError(f"{keys.m_instance_id} publishes no key {method}")
        problem = record.usable_at(at_ms)
        if problem is not None:
            raise LookupError(f"key {method}: {problem}")
        return record.public_key

    return resolve


def check_log_against(checkpoint: Checkpoint, *, entry_at_size: AuditEntry | None, head: AuditEntry | None) -> None:
    """Does the log still hold what ``checkpoint`` says (its signature already checked)?
    ``entry_at_size`` is the log's first entry with seq >= ``checkpoint.size`` (None if none),
    ``head`` its newest. Raises AuditTailBroken ``AUDIT_TRUNCATED`` (the head's seq is below
    ``size``) or ``AUDIT_REWRITTEN`` (entry ``size`` is missing or is not the one signed). That
    the log grew is fine; that the growth chains to entry ``size`` is the chain walk's to check
    (``verify``)."""
    if checkpoint.size == 0:
        return
    have = head.seq if head else 0
    if have < checkpoint.size:
        raise AuditTailBroken(
            f"the log has {have} entries; the checkpoint of {_when(checkpoint)} was signed at {checkpoint.size}",
            reason=AUDIT_TRUNCATED,
        )
    if entry_at_size is None or entry_at_size.seq != checkpoint.size:
        raise AuditTailBroken(
            f"entry {checkpoint.size}, the head the checkpoint of {_when(checkpoint)} signed, is missing",
            reason=AUDIT_REWRITTEN,
        )
    if entry_at_size.hash != checkpoint.head_hash:
        raise AuditTailBroken(
            f"entry {checkpoint.size} hashes to {entry_at_size.hash[:16]}..., the checkpoint of {_when(checkpoint)} "
            f"signed {checkpoint.head_hash[:16]}...",
            reason=AUDIT_REWRITTEN,
        )


def check_successor(last: Checkpoint, new: Checkpoint) -> None:
    """What a peer can check between two checkpoints of one M-Instance (both verified): the log
    never shrinks, and one size always has one head. AuditTailBroken ``AUDIT_TRUNCATED`` /
    ``AUDIT_REWRITTEN``."""
    if new.size < last.size:
        raise AuditTailBroken(
            f"{new.m_instance_id} now signs {new.size} entries, after signing {last.size} at {_when(last)}",
            reason=AUDIT_TRUNCATED,
        )
    if new.size == last.size and new.head_hash != last.head_hash:
        raise AuditTailBroken(
            f"{new.m_instance_id} signed two heads for entry {new.size} ({_when(last)} and {_when(new)})",
            reason=AUDIT_REWRITTEN,
        )


def _refused(message: str) -> CheckpointRefused:
    return CheckpointRefused(f"audit checkpoint refused: {message}", reason=CHECKPOINT_SIGNATURE_INVALID)


def _when(checkpoint: Checkpoint) -> str:
    return datetime.datetime.fromtimestamp(checkpoint.time_ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
