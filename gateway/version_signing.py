"""Content versions signed by the gateway that sends them over RE-3 (ITU FGMV-43 9.3 steps 5-7,
COSF; issue 16: "a gateway signs only what its own instance holds").

Each ``ContentVersions`` message one gateway sends another (a push, a pull's ask, an answer) is
signed by the sending gateway with its M-Instance's key. What it signs is the **statement** of
the message, built from what its own M-Instance exported (RI-3 ``ExportVersions``), never from
what a caller handed it::

    {"Type": "mmmfed/ContentVersions/v1", "ContentID", "KnownIDs": [sorted ids],
     "Versions": [{"VersionID", "Parents", "Author", "TimeMs",
                   "Parts": [{"Path", "Size", "SHA256"}]}, ...]}   (in the message's order)

in RFC 8785 (JCS) bytes, bound by a transfer envelope (:mod:`gateway.envelope`: origin,
destination, transfer id, the statement's sha-256, issued-at, expires-at; eddsa-jcs-2022). A
version's id is the sha-256 of its record, which holds its parents, author, time, Qualifier,
metadata and part digests (:mod:`mmmfed.content.versions`), so the proof covers every version
as its record says it, and each part through its digest.

The receiver rebuilds the statement from the exact records it received (after checking each
version is what its id says) and checks the envelope with the peer's keys (the keyring: rotated
keys verify what they signed before, a compromised one nothing), the binding, its times and its
transfer id never seen before, all before its M-Instance applies anything: a message without an
envelope is ``ENVELOPE_MISSING``, a version changed after signing (even re-addressed under a new
id) ``ENVELOPE_MISMATCH``, a proof that does not verify ``SIGNATURE_INVALID`` or ``KEY_*``
(gRPC PERMISSION_DENIED, :class:`gateway.verification.ForeignItemRefused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rfc8785

from gateway.envelope import EnvelopeChecker, make_envelope, new_transfer_id
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.content.versions import ContentVersion
from mmmfed.keys import InstanceKeyStore

STATEMENT_TYPE = "mmmfed/ContentVersions/v1"


def statement(content_id: str, known_ids: Sequence[str], versions: Sequence[ContentVersion]) -> bytes:
    """The JCS bytes a gateway signs for a message of ``content_id`` carrying ``versions`` (each
    checked against its id already) and naming ``known_ids`` (module docstring)."""
    doc: dict[str, Any] = {
        "Type": STATEMENT_TYPE,
        "ContentID": content_id,
        "KnownIDs": sorted(known_ids),
        "Versions": [
            {
                "VersionID": v.version_id,
                "Parents": list(v.parents),
                "Author": v.author,
                "TimeMs": v.time_ms,
                "Parts": [{"Path": p.path, "Size": p.size, "SHA256": p.sha256} for p in v.parts],
            }
            for v in versions
        ],
    }
    return bytes(rfc8785.dumps(doc))


def _records(message: cpb.ContentVersions) -> list[ContentVersion]:
    return [ContentVersion.from_record(d.record_json, version_id=d.version_id) for d in message.versions]


def sign_versions(message: cpb.ContentVersions, *, keys: InstanceKeyStore, destination: str) -> cpb.ContentVersions:
    """``message`` (as this gateway's M-Instance exported it) with a new transfer id and the
    envelope over its statement for ``destination``, signed with the current key of ``keys``.
    Raises FailedPrecondition ``NO_SIGNING_KEY``; InvalidInput ``VERSION_MALFORMED`` /
    DataIntegrityError ``VERSION_ID_MISMATCH`` for a record of its own that is not what its id says."""
    signed = cpb.ContentVersions()
    signed.CopyFrom(message)
    signed.transfer_id = new_transfer_id()
    signed.envelope_json = make_envelope(
        keys=keys,
        destination=destination,
        transfer_id=signed.transfer_id,
        item_json=statement(message.content_id, message.known_ids, _records(message)),
    )
    return signed


async def check_signed(
    message: cpb.ContentVersions,
    versions: Sequence[ContentVersion],
    *,
    envelopes: EnvelopeChecker,
    peer_id: str,
) -> None:
    """Raise ForeignItemRefused unless ``message`` (whose ``versions`` were checked against their
    ids) is signed by ``peer_id`` for this gateway, as the module docstring says (reasons
    ``ENVELOPE_MISSING``, ``ENVELOPE_MISMATCH``, ``ENVELOPE_EXPIRED``, ``REPLAYED``,
    ``SIGNATURE_INVALID``, ``KEY_REVOKED``, ``KEY_UNKNOWN``...). Claims its transfer id."""
    await envelopes.check(
        message.envelope_json,
        peer_id=peer_id,
        transfer_id=message.transfer_id,
        item_json=statement(message.content_id, message.known_ids, versions),
    )
