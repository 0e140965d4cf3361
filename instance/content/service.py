"""Publish, find and read the M-Instance's contents (ITU FGMV-43 9.3 step 1, COTF; COIR-101/102).

A content is an Item of the one model of the M-Instance: publishing sends the World an Author
Process Action (MMM-TEC) from the owner's User Process, carrying the content's Item draft
(:func:`mmmfed.content.item.content_document`). The World decides it (the owner needs the
Author Right), gives the Item its Trace and ICapabilities and the owner its Rights, and records
the decision as Activity Data; on Ack the Item as the World holds it and its parts are stored
(:mod:`instance.content.store`) in the same write as that record. A refusal stores nothing.

Plain class; a servicer only decodes and encodes. Call on the event loop's thread (the engine is
not shared with worker threads).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from instance.content.store import ContentFilter, ContentStore, StoredContent
from instance.process_actions import ProcessActionService
from instance.world.model import Action, DeonticVerb, PAErrorCode, ProcessActionRequest, complements
from mmmfed.content.item import content_document
from mmmfed.content.kinds import InspectedContent
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage
from mmmfed.errors import InvalidInput, NotFound, PermissionDenied
from mmmfed.items import Item, item_of, new_id


def _now_ms() -> int:
    return int(time.time() * 1000)


class ContentService:
    """The contents of ``process_actions``' M-Instance, kept in ``store``, which must be in the
    same database as its Activity Data (one write holds a decision and its content)."""

    def __init__(
        self, process_actions: ProcessActionService, store: ContentStore, *, clock_ms: Callable[[], int] = _now_ms
    ) -> None:
        if store.database is not process_actions.activity.database:
            raise ValueError("the content store must be in the database that holds the World's Activity Data")
        self._process_actions = process_actions
        self._store = self.store = store
        self._clock_ms = clock_ms
        self.m_instance_id = process_actions.m_instance_id

    def publish(self, owner_process_id: str, content: InspectedContent, metadata: ContentMetadata) -> Item:
        """Publish ``content`` owned by the local User Process ``owner_process_id``; the Item as
        stored (Trace, ICapabilities: the owner's Rights).

        Raises:
            NotFound ``USER_NOT_FOUND``: no such Process here.
            PermissionDenied ``InsRights``: the World refused it, the owner lacks the Author Right.
            InvalidInput ``CONTENT_REFUSED`` (metadata ``pa_status``): any other PA Status Error.
        """
        if owner_process_id not in self._process_actions.world.processes:
            raise NotFound(f"no User Process {owner_process_id} here", reason="USER_NOT_FOUND")
        item_id = new_id(self.m_instance_id, "items")
        now = self._clock_ms()
        draft = content_document(
            m_instance_id=self.m_instance_id,
            item_id=item_id,
            producer_process_id=owner_process_id,
            content=content,
            metadata=metadata,
        )
        request = ProcessActionRequest(
            DeonticVerb.MAY,
            Action.AUTHOR,
            owner_process_id,
            owner_process_id,
            complements(nil=item_id),
            now,
            process_action_id=new_id(self.m_instance_id, "process-actions"),
            items=(draft,),
        )
        with self._store.database.write("content.publish"):
            response = self._process_actions.decide(request)
            status = response.status
            if status.is_ack:
                item = item_of(self._process_actions.world.items[item_id])
                self._store.insert(item, owner=owner_process_id, package=content.package, created_ms=now)
        if not status.is_ack:  # the refusal's Activity Data is kept; nothing else is written
            code = status.error.value if status.error is not None else status.kind.value
            if status.error is PAErrorCode.INS_RIGHTS:
                raise PermissionDenied(f"Author refused: {status.reason}", reason=code)
            raise InvalidInput(
                f"Author refused ({code}): {status.reason}", reason="CONTENT_REFUSED", metadata={"pa_status": code}
            )
        return item

    def get(self, content_id: str) -> StoredContent:
        """The content's Item as stored and its owner; NotFound ``CONTENT_NOT_FOUND``."""
        return self._store.get(content_id)

    def package(self, content_id: str) -> ContentPackage:
        """The content's parts, checked against its Item (:meth:`ContentStore.package`)."""
        return self._store.package(content_id)

    def search(self, where: ContentFilter) -> list[StoredContent]:
        """Local search by kind, tag (case-insensitive), creator, licence and owner."""
        if where.tag is not None:
            where = replace(where, tag=where.tag.strip().lower())
        return self._store.search(where)
