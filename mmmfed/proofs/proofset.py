"""A document's proofs as DataIntegrityProof values (DI-EDDSA 2.2.1, VC-DI 2.1): the proof type and
cryptosuite, the ``created`` format, and a proof set with its ``previousProof`` references (VC-DI
4.3, 4.5), shared by :mod:`mmmfed.proofs.sign` and :mod:`mmmfed.proofs.verify`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mmmfed.dates import is_calendar_date
from mmmfed.proofs.reasons import PREVIOUS_PROOF_MISSING, PROOF_MALFORMED

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"

# Each proof costs a canonicalisation of the whole document; 16 is far above a bridge chain's
# depth (original + one proof per bridge hop) and bounds the work a peer can ask for.
MAX_PROOFS = 16

# XML Schema 1.1 dateTimeStamp (a dateTime with a time zone), as VC-DI 2.1 requires for `created`;
# years limited to 0001-9999, and the date checked as `datetime.date` would (mmmfed.dates).
_DATE_TIME_STAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))",
    re.ASCII,
)


def is_date_time_stamp(value: object) -> bool:
    """True if ``value`` is an XML Schema dateTimeStamp (VC-DI 2.1 ``created``), years 0001-9999."""
    match = _DATE_TIME_STAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    year, month, day = match.groups()
    return is_calendar_date(int(year), int(month), int(day))


class ProofFailure(Exception):
    """One proof failed for ``reason``; never leaves :mod:`mmmfed.proofs` (signing turns it into
    InvalidInput, verification into a :class:`~mmmfed.proofs.verify.ProofCheck`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def proof_list(proof: object) -> list[Mapping[str, Any]]:
    """``proof`` (one object or a proof set) as a list; ProofFailure ``PROOF_MALFORMED`` else."""
    if isinstance(proof, Mapping):
        return [proof]
    if isinstance(proof, list) and all(isinstance(p, Mapping) for p in proof):
        return list(proof)
    raise ProofFailure(PROOF_MALFORMED)


def previous_ids(value: object) -> list[str]:
    """A ``previousProof`` value (an id or a non-empty list of ids) as a list; ProofFailure
    ``PROOF_MALFORMED`` else."""
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise ProofFailure(PROOF_MALFORMED)
    return ids


def matching_proofs(all_proofs: Sequence[Mapping[str, Any]], ids: list[str]) -> list[Mapping[str, Any]]:
    """VC-DI 4.3 steps 4-5 / 4.5 step 3.2: the proofs whose ``id`` is in ``ids``, in set order."""
    found = {p["id"] for p in all_proofs if isinstance(p.get("id"), str)}
    if any(i not in found for i in ids):
        raise ProofFailure(PREVIOUS_PROOF_MISSING)
    return [p for p in all_proofs if p.get("id") in ids]
