"""Log and Audit Functions (LAF, FGMV-43 7.5.3; issue "Federated trust" item 7, issue 12 item 7):
an append-only, hash-chained record of every accept and refusal and every agreement change, and
signed checkpoints of it that a peer can hold the gateway to.

FGMV-43 7.5.3 asks for "the systematic recording of events, transactions, and interactions that
occur between the platforms" so they can be audited "to ensure compliance with the interoperability
agreements", and says the record is reached through MPMF/MBMF, not by the peer directly. Here the
gateway appends; the peer under an agreement is served its part (entries whose ``peer_id`` is its
M-Instance, in bounded pages) and signed checkpoints (RE-5 ``GetAuditEntries`` /
``GetAuditCheckpoint``).

The package, one job per module:

- :mod:`mmmfed.audit.entries`: the entry, its hash, drafts, stored rows.
- :mod:`mmmfed.audit.chain`: walking the chain (:class:`VerifyResult`), the :class:`AuditLog` protocol.
- :mod:`mmmfed.audit.sqlite`: :class:`SqliteAuditLog`, the embedded backend (the Redis one is
  :class:`mmmfed.store.redis.RedisAuditLog`).
- :mod:`mmmfed.audit.checkpoint`: signed checkpoints (Certificate Transparency's signed tree heads).
"""

from mmmfed.audit.chain import (
    HASH_MISMATCH,
    LINK_BROKEN,
    SEQ_GAP,
    VERIFIED,
    AuditLog,
    VerifyResult,
    check_chain,
    check_entries_query,
    check_rows,
    check_verify_from,
)
from mmmfed.audit.entries import (
    ACCEPTED,
    AGREEMENT_ACCEPTED,
    AGREEMENT_EXPIRED,
    AGREEMENT_PROPOSED,
    AGREEMENT_REJECTED,
    AGREEMENT_REVOKED,
    GENESIS_HASH,
    MAX_SAFE_INT,
    REFUSED,
    AuditDraft,
    AuditEntry,
    draft_entry,
    entry_from_row,
    entry_hash,
    entry_row,
    verify_entry,
)
from mmmfed.audit.sqlite import SqliteAuditLog

__all__ = [
    "ACCEPTED",
    "AGREEMENT_ACCEPTED",
    "AGREEMENT_EXPIRED",
    "AGREEMENT_PROPOSED",
    "AGREEMENT_REJECTED",
    "AGREEMENT_REVOKED",
    "GENESIS_HASH",
    "HASH_MISMATCH",
    "LINK_BROKEN",
    "MAX_SAFE_INT",
    "REFUSED",
    "SEQ_GAP",
    "VERIFIED",
    "AuditDraft",
    "AuditEntry",
    "AuditLog",
    "SqliteAuditLog",
    "VerifyResult",
    "check_chain",
    "check_entries_query",
    "check_rows",
    "check_verify_from",
    "draft_entry",
    "entry_from_row",
    "entry_hash",
    "entry_row",
    "verify_entry",
]
