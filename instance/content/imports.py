"""Contents that migrate here from a peer M-Instance (ITU FGMV-43 9.3 step 4, COIFC; RI-3 from
this M-Instance's gateway, which verified the Item's proof and each part on RE-3).

The Item is kept as its home M-Instance signed it (its home ItemID, its owner at home), the
parts content-addressed beside the others (:mod:`instance.content.store`), and the M-Instance it
came from in ``content_homes``. All or nothing: every part is read and checked again here (size,
sha-256, each a file of the kind and format the Item's Qualifier says) before the one write that
stores it; a refusal stores nothing. A content already held (same ItemID) is answered
``already_held`` and left as it is: a repeated migration is idempotent.

Rights (COIR-302): the Item's ICapabilities (who may perform which MMM-TEC Action on it, as the
home World gave them) become Rights of this World (Level Acquired, granted by the home
producer), so this engine decides what a Process may do with the content: a Process without the
Right gets PA Status Error ``InsRights``. The World holds them again on start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from instance.content.store import ContentStore
from instance.process_actions import ProcessActionService
from instance.world.model import Action, DeonticVerb, Right, RightLevel
from instance.world.world import World
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.content.item import is_content, parts_of
from mmmfed.content.kinds import inspect_parts
from mmmfed.content.transfer import PartsChecker, check_limits
from mmmfed.errors import InvalidInput, PermissionDenied
from mmmfed.items import instance_or_none, parse_item


def _now_ms() -> int:
    return int(time.time() * 1000)


def adopt_content(world: World, doc: Mapping[str, Any]) -> None:
    """Hold a migrated content's Item in ``world``, and as Rights what its ICapabilities give
    (an Action this Profile does not know gives none)."""
    item_id = str(doc["ItemID"])
    world.items[item_id] = dict(doc)
    granted_by = str(doc.get("ProducerProcessID") or "")
    for entry in doc.get("ICapabilities") or ():
        holder = str(entry.get("ProcessID", ""))
        for name in entry.get("Rights") or ():
            try:
                action = Action(name)
            except ValueError:
                continue
            right_id = f"{item_id}#{holder}#{action.value}"
            world.rights[right_id] = Right(
                right_id, holder, DeonticVerb.MAY, action, item_id, RightLevel.ACQUIRED, granted_by or holder, 0
            )


class ContentImports:
    """Receives contents for ``store`` (in the World's database) and holds them in the World."""

    def __init__(
        self, process_actions: ProcessActionService, store: ContentStore, *, clock_ms: Callable[[], int] = _now_ms
    ) -> None:
        self._world = process_actions.world
        self._store = store
        self._clock_ms = clock_ms
        for stored in store.migrated_here():
            adopt_content(self._world, stored.item.doc)

    async def receive(
        self, header: cpb.ContentTransferHeader, chunks: AsyncIterator[bytes]
    ) -> cpb.ContentTransferResponse:
        """Store the content ``header`` and ``chunks`` carry (see the module docstring).

        Raises InvalidInput ``NOT_CONTENT`` / ``CONTENT_QUALIFIER_MISMATCH`` and the kinds'
        refusals (``CONTENT_MALFORMED``...), PermissionDenied ``ORIGIN_MISMATCH`` (the Item or its
        owner is not of the origin), TooLarge ``CONTENT_TOO_LARGE``, DataIntegrityError
        ``SIZE_MISMATCH`` / ``DIGEST_MISMATCH``."""
        item = parse_item(header.item.item_json)
        origin = header.origin_m_instance_id
        if not is_content(item.doc):
            raise InvalidInput(f"{item.item_id[:256]} is not a content's Item", reason="NOT_CONTENT")
        if not origin or {instance_or_none(item.item_id), instance_or_none(header.owner_process_id)} != {origin}:
            raise PermissionDenied(
                f"content {item.item_id[:256]} owned by {header.owner_process_id[:256]} is not of {origin or '?'}",
                reason="ORIGIN_MISMATCH",
            )
        refs = parts_of(item.doc)
        check_limits(refs)
        checker = PartsChecker(refs, keep=True)
        async for chunk in chunks:
            checker.feed(chunk)
        checker.finish()
        package = checker.package()
        inspected = await asyncio.to_thread(inspect_parts, [(p.path, p.data) for p in package.parts])
        said = (item.qualifier.get("SubType"), item.qualifier.get("Format"))
        found = (inspected.kind.value, inspected.format)
        if said != found:
            raise InvalidInput(
                f"the Item says {said[0]} {said[1]}; its parts are {found[0]} {found[1]}",
                reason="CONTENT_QUALIFIER_MISMATCH",
            )
        held = self._store.has(item.item_id)  # checked and written with no await between: one at a time
        if not held:
            self._store.insert(
                item,
                owner=header.owner_process_id,
                package=package,
                created_ms=self._clock_ms(),
                home=origin,
                transfer_id=header.transfer_id,
            )
            adopt_content(self._world, item.doc)
        stored = self._store.get(item.item_id)
        view = cpb.ContentView(item=itpb.ItemEnvelope(item_json=stored.item.raw), owner_process_id=stored.owner)
        return cpb.ContentTransferResponse(content=view, bytes=checker.received, already_held=held)
