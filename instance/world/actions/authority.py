"""Whose Rights a Process Action needs, and on what (the project's reading of MMM-TEC Rights).

MMM-TEC: a Process "may perform the set of Process Actions that are listed as Rights of the
Process", and asks another Process to act when it "cannot (does not have the technology) or may
not (does not have the Rights)". So:

* The **source** (requesting) Process needs a May Right for the Action on each Item or Process the
  Action touches, and the **destination** needs the Action among its Capabilities (the
  technology). Most Actions work this way: a User MU-Actuates its Persona through its Device, which
  can render but holds no Rights of its own on the Persona.
* Two Actions are taken on the destination's own authority, so the destination needs the Right:
  **Register** (the Registration Service May Register; the human's App asks) and **Rights Manage**
  (a Process gives or withdraws Rights it holds; see ``actions/rights.py``).

What the Action touches (:func:`rights_targets`): its Nil Complement; for MM-Add and MM-Move also
the At M-Location (entering Room1 needs a Right on Room1); nothing for Actions that create or find
(Register, Author, Identify, Discover, Resolve), which only a ``"*"`` Right covers.
"""

from __future__ import annotations

from instance.world.model import Action, ComplementKind, ProcessActionRequest

DESTINATION_AUTHORITY: frozenset[Action] = frozenset({Action.REGISTER, Action.RIGHTS_MANAGE})
UNTARGETED: frozenset[Action] = frozenset(
    {Action.REGISTER, Action.AUTHOR, Action.IDENTIFY, Action.DISCOVER, Action.RESOLVE}
)
PLACING: frozenset[Action] = frozenset({Action.MM_ADD, Action.MM_MOVE})


def authority(request: ProcessActionRequest) -> str:
    """The ProcessID whose Rights the request needs."""
    return request.destination_id if request.action in DESTINATION_AUTHORITY else request.source_id


def rights_targets(request: ProcessActionRequest) -> list[str | None]:
    """What the Rights must cover (None: only a ``"*"`` Right covers it)."""
    if request.action in UNTARGETED:
        return [None]
    targets: list[str | None] = [request.complement(ComplementKind.NIL)]
    if request.action in PLACING:
        targets.append(request.complement(ComplementKind.AT))
    return targets
