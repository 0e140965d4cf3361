"""Whether a content's licence lets it be redistributed to another M-Instance (ITU FGMV-43 9.3,
COIR-103 and COIR-302): the rule the home gateway applies before any byte of a content leaves.

The rule, over the content's SPDX licence expression (:mod:`mmmfed.content.metadata`):

- every licence on the SPDX licence list grants redistribution (each lets the work be copied
  and shared, under its conditions: attribution, share-alike, non-commercial use...);
- a ``LicenseRef-*`` (SPDX 2.3 Annex D: a licence of the creator's own, not on the list) grants
  none: it is read as proprietary, without a redistribution grant this M-Instance can check;
- ``A AND B`` grants it when both do, ``A OR B`` when either does (the recipient may choose), a
  ``WITH`` exception as its licence.

So ``CC-BY-4.0``, ``MIT OR LicenseRef-Mine`` and ``CC0-1.0`` migrate; ``LicenseRef-Proprietary``
and ``CC-BY-4.0 AND LicenseRef-Mine`` are refused FAILED_PRECONDITION ``LICENCE_FORBIDS``.
"""

from __future__ import annotations

from typing import Any

from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

from mmmfed.content.metadata import LICENSE_REF, spdx_licensing
from mmmfed.errors import FailedPrecondition

LICENCE_FORBIDS = "LICENCE_FORBIDS"


def _grants(node: Any) -> bool:
    if isinstance(node, LicenseWithExceptionSymbol):
        return _grants(node.license_symbol)
    if isinstance(node, LicenseSymbol):
        return not LICENSE_REF.fullmatch(str(node.key))
    if isinstance(node, AND):
        return all(_grants(a) for a in node.args)
    if isinstance(node, OR):
        return any(_grants(a) for a in node.args)
    return False  # anything else grants nothing


def redistributable(expression: str) -> bool:
    """Whether the SPDX licence ``expression`` (as :func:`~mmmfed.content.metadata.spdx_licence`
    spells it) grants redistribution, by the rule of the module docstring."""
    return _grants(spdx_licensing().parse(expression))


def require_redistributable(expression: str, *, content_id: str, peer: str) -> None:
    """FailedPrecondition ``LICENCE_FORBIDS`` (metadata ``licence``) unless ``expression`` grants
    redistribution (COIR-103)."""
    if not redistributable(expression):
        raise FailedPrecondition(
            f"content {content_id[:256]} is licensed {expression[:200]!r}, which grants no redistribution "
            f"(a LicenseRef-* is read as proprietary): it may not migrate to {peer}",
            reason=LICENCE_FORBIDS,
            metadata={"licence": expression[:200]},
        )
