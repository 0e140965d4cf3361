"""Publish, find and read the M-Instance's contents (ITU FGMV-43 9.3 step 1, COTF; COIR-101/102).

A content is an Item of the one model of the M-Instance: publishing sends the World an Author
Process Action (MMM-TEC) from the owner's User Process, carrying the content's Item draft
(:func:`mmmfed.content.item.content_document`). The World decides it (the owner needs the
Author Right), gives the Item its Trace and ICapabilities and the owner its Rights, and records
the decision as Activity Data; on Ack the Item as the World holds it and its parts are stored
(:mod:`instance.content.store`) in the same write as that record. A refusal stores nothing.

Versions (COIR-104, :mod:`mmmfed.content.versions`): publishing makes a content's first version;
:meth:`ContentService.update` and :meth:`~ContentService.revert` make a new one whose parent is
the head, through a Modify Process Action (the author needs the Modify Right; the World records
it as Activity Data and holds the Item of the new version: same ItemID, its ItemParts those of
the new version). Versions from a linked peer (COSF, :meth:`~ContentService.apply_remote`) are
verified (id, parents held, each part's digest, same kind) and applied once by id. Two heads are
a conflict: a text content merges at once (:func:`~mmmfed.content.versions.merge_text`: the
merge version is the same on both sides, author the owner, time the later head's); a binary one
keeps both heads until its owner resolves (:meth:`~ContentService.resolve`).

Converted contents (COCF with COSF, :mod:`mmmfed.content.renditions`): a content the bridge
converted on its migration here (a new Item here, SourceItem the home content) shares its home's
version graph: its version records carry the home's ItemID (:meth:`~ContentService.wire_id`), a
version from the home arrives with the bridge's converted representation (a
:class:`~mmmfed.content.renditions.Rendition`, held instead of the record's parts), and a version
made here names the parts held here (e.g. the ``.glb`` a user edited). The current Item here is
the held representation of the current version.

Plain class; a servicer only decodes and encodes. Call on the event loop's thread (the engine is
not shared with worker threads).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from instance.content.store import ContentFilter, ContentStore, StoredContent
from instance.process_actions import ProcessActionService
from instance.world.itemdocs import iso
from instance.world.model import Action, DeonticVerb, PAErrorCode, ProcessActionRequest, complements
from mmmfed.content.item import PartRef, content_document, parts_of
from mmmfed.content.kinds import ContentKind, InspectedContent
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.renditions import Rendition
from mmmfed.content.versions import ContentVersion, VersionGraph, merge_metadata, merge_text
from mmmfed.errors import FailedPrecondition, InvalidInput, NotFound, PermissionDenied, TooLarge
from mmmfed.items import Item, instance_or_none, item_of, new_id

MAX_VERSIONS = 10_000
"""The most versions one content keeps here from peers (a peer's history is bounded)."""


@dataclass(frozen=True)
class ContentHistory:
    """A content's versions as held here (arrival order), its heads (two or more: a conflict),
    the current version's id and the M-Instances it stays in step with."""

    content_id: str
    versions: list[ContentVersion]
    heads: list[ContentVersion]
    current: str
    linked: list[str]
    converted: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    """For a content held here converted: ``{version_id: (bridge_id, Format held here)}``."""


@dataclass(frozen=True)
class Applied:
    """What applying one version from a peer did: ``applied`` (False: held already)."""

    version_id: str
    applied: bool


def _refs(package: ContentPackage) -> tuple[PartRef, ...]:
    return tuple(PartRef(p.path, p.media_type, p.size, p.sha256) for p in package.parts)


def version_doc(doc: Mapping[str, Any], version: ContentVersion) -> dict[str, Any]:
    """The Item document of the content at ``version``: ``doc`` (the content's Item) with the
    version's Qualifier, DescrMetadata and ItemParts, and no proof (it no longer covers them)."""
    new = {k: v for k, v in doc.items() if k != "proof"}
    new["ItemQualifier"] = dict(version.qualifier)
    new["DescrMetadata"] = dict(version.metadata)
    new["ItemParts"] = [
        {
            "Path": p.path,
            "MediaType": p.media_type,
            "Size": p.size,
            "Digest": {"Algorithm": "sha-256", "Value": p.sha256},
        }
        for p in version.parts
    ]
    return new


def held_doc(doc: Mapping[str, Any], version: ContentVersion, rendition: Rendition | None) -> dict[str, Any]:
    """The Item document of the content at ``version`` as held here: :func:`version_doc`, or,
    for a version held converted, with the converted Item's Qualifier, DescrMetadata (which
    names the bridge) and ItemParts."""
    new = version_doc(doc, version)
    if rendition is not None:
        new["ItemQualifier"] = dict(rendition.qualifier)
        new["DescrMetadata"] = dict(rendition.metadata)
        new["ItemParts"] = list(rendition.item.doc["ItemParts"])
    return new


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
        self._hold_current_versions()

    def _hold_current_versions(self) -> None:
        """On start: a content of this M-Instance whose current version came from a peer (COSF,
        applied outside a Process Action, so Activity Data does not replay it) is held in the
        World at that version again: its Qualifier, DescrMetadata and ItemParts, the rest of the
        World's Item (Trace, status, ICapabilities) as replayed."""
        items = self._process_actions.world.items
        for stored in self._store.search(ContentFilter()):
            held = items.get(stored.item.item_id)
            if held is None or self._store.home_of(stored.item.item_id):
                continue
            fields = ("ItemQualifier", "DescrMetadata", "ItemParts")
            if any(held.get(f) != stored.item.doc.get(f) for f in fields):
                items[stored.item.item_id] = {**held, **{f: stored.item.doc.get(f) for f in fields}}

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
                first = self._first_version(item, owner_process_id, now)
                self._store.add_version(first, content.package, now_ms=now, mark_peers=False)
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

    # -- versions (COIR-104) ------------------------------------------------------------------
    def _first_version(self, item: Item, author: str, time_ms: int) -> ContentVersion:
        return ContentVersion.make(
            content_id=item.item_id,
            parents=(),
            author=author,
            time_ms=time_ms,
            qualifier=item.qualifier,
            metadata=item.doc.get("DescrMetadata") or {},
            parts=tuple(parts_of(item.doc)),
        )

    def _graph(self, content_id: str) -> VersionGraph:
        """The content's version graph; a content of this M-Instance published before versions
        existed gets its first version from its Item now (its producer, its Trace time)."""
        stored = self._store.get(content_id)
        versions = self._store.versions(content_id)
        if not versions and not self._store.home_of(content_id):
            trace = stored.item.doc.get("Trace") or [{}]
            first = self._first_version(stored.item, stored.owner, _trace_ms(trace[0]))
            self._store.add_version(first, self._store.package(content_id), now_ms=self._clock_ms(), mark_peers=False)
            versions = [first]
        return VersionGraph(versions)

    def history(self, content_id: str) -> ContentHistory:
        """The content's versions, heads, current version and links; NotFound ``CONTENT_NOT_FOUND``."""
        graph = self._graph(content_id)
        item = self._store.get(content_id).item
        renditions = self._store.rendition_items(content_id)
        current = _current_id(graph, item, {v: r for v, (r, _) in renditions.items()})
        converted = {v: (bridge, str(r.qualifier.get("Format", ""))) for v, (r, bridge) in renditions.items()}
        return ContentHistory(
            content_id,
            list(graph.versions.values()),
            graph.heads(),
            current,
            self._store.linked_peers(content_id),
            converted,
        )

    def wire_id(self, content_id: str) -> str:
        """The ContentID of the content's version records: its home content's ItemID for a content
        converted on its migration here, else its own ItemID."""
        return self._store.source_of(content_id) or content_id

    def local_id(self, content_id: str, peer: str) -> str:
        """The content held here that ``peer`` names ``content_id`` (its own ItemID, or, for a
        content converted on its migration here from ``peer``, the home content's ItemID)."""
        if self._store.has(content_id):
            return content_id
        return self._store.converted_from(content_id, peer) or content_id

    def _held(self, version: ContentVersion) -> tuple[Mapping[str, Any], ContentPackage]:
        """The Qualifier and parts of ``version`` as held here (converted, or as its record names)."""
        rendition = self._store.rendition(version)
        if rendition is not None:
            return rendition.qualifier, rendition.package
        return version.qualifier, self._store.version_package(version)

    def version_package(self, content_id: str, version_id: str) -> tuple[ContentVersion, ContentPackage]:
        """A version (id or unique prefix of 8+ hex digits) and its parts. NotFound
        ``CONTENT_NOT_FOUND`` / ``VERSION_NOT_FOUND``."""
        version = self._graph(content_id).find(version_id)
        return version, self._store.version_package(version)

    def update(self, content_id: str, author: str, content: InspectedContent) -> ContentVersion:
        """A new version of the content with ``content``'s parts and the head's metadata, its
        parent the head, decided as a Modify Process Action of ``author`` ("" = the owner).

        Raises NotFound ``CONTENT_NOT_FOUND`` / ``USER_NOT_FOUND``, InvalidInput
        ``CONTENT_KIND_CHANGED`` (a version keeps the content's kind) / ``CONTENT_UNCHANGED``,
        FailedPrecondition ``CONTENT_IN_CONFLICT`` (two heads wait for ``resolve``) / ``HISTORY_NOT_HERE``,
        PermissionDenied ``InsRights`` (the author lacks the Modify Right)."""
        graph = self._graph(content_id)
        head = self._one_head(graph, content_id)
        if content.kind.value != head.kind:
            raise InvalidInput(
                f"content {content_id} is {head.kind}; a new version cannot be {content.kind.value}",
                reason="CONTENT_KIND_CHANGED",
            )
        return self._commit(
            content_id,
            author,
            parents=(head.version_id,),
            qualifier=content.qualifier(),
            metadata=head.metadata,
            package=content.package,
            head=head,
        )

    def revert(self, content_id: str, version_id: str, author: str) -> ContentVersion:
        """A NEW version equal to the old version ``version_id`` (its parts, Qualifier and
        metadata), its parent the head (the history keeps every version). Raises as
        :meth:`update`, and NotFound ``VERSION_NOT_FOUND``."""
        graph = self._graph(content_id)
        head = self._one_head(graph, content_id)
        old = graph.find(version_id)
        qualifier, package = self._held(old)  # a version held converted comes back as held here
        return self._commit(
            content_id,
            author,
            parents=(head.version_id,),
            qualifier=qualifier,
            metadata=old.metadata,
            package=package,
            head=head,
        )

    def resolve(self, content_id: str, keep: str, by: str) -> ContentVersion:
        """Resolve a conflict of a binary content (COSF): a merge version whose parents are all
        the heads and whose parts are those of the head ``keep``, made by the owner ``by`` only.

        Raises PermissionDenied ``NOT_OWNER``, FailedPrecondition ``NO_CONFLICT``, InvalidInput
        ``VERSION_NOT_A_HEAD``, NotFound ``VERSION_NOT_FOUND``, and as :meth:`update`."""
        stored = self._store.get(content_id)
        owner = stored.owner
        by = by or owner
        if by != owner:
            raise PermissionDenied(
                f"only the owner {owner} resolves a conflict of {content_id}, not {by}", reason="NOT_OWNER"
            )
        graph = self._graph(content_id)
        heads = graph.heads()
        if len(heads) < 2:
            raise FailedPrecondition(f"content {content_id} has one head: nothing to resolve", reason="NO_CONFLICT")
        kept = graph.find(keep)
        if kept.version_id not in {h.version_id for h in heads}:
            raise InvalidInput(
                f"version {kept.version_id[:12]} is not one of the heads"
                f" ({', '.join(h.version_id[:12] for h in heads)})",
                reason="VERSION_NOT_A_HEAD",
            )
        qualifier, package = self._held(kept)  # kept converted here: the merge names what is held here
        return self._commit(
            content_id,
            by,
            parents=tuple(h.version_id for h in heads),
            qualifier=qualifier,
            metadata=kept.metadata,
            package=package,
            head=None,
        )

    def conflicts(self) -> list[ContentHistory]:
        """The contents held here with two or more heads, oldest first."""
        found = []
        for stored in self._store.search(ContentFilter()):
            history = self.history(stored.item.item_id)
            if len(history.heads) > 1:
                found.append(history)
        return found

    def _one_head(self, graph: VersionGraph, content_id: str) -> ContentVersion:
        heads = graph.heads()
        if not heads:
            raise FailedPrecondition(
                f"the history of content {content_id} has not arrived from its home yet;"
                " try again once `mmmfed content sync` succeeds",
                reason="HISTORY_NOT_HERE",
            )
        if len(heads) != 1:
            raise FailedPrecondition(
                f"content {content_id} has {len(heads)} heads ({', '.join(h.version_id[:12] for h in heads)}):"
                " its owner resolves the conflict first (`mmmfed content resolve ID --keep VERSION`)",
                reason="CONTENT_IN_CONFLICT",
            )
        return heads[0]

    def _commit(
        self,
        content_id: str,
        author: str,
        *,
        parents: Sequence[str],
        qualifier: Mapping[str, Any],
        metadata: Mapping[str, Any],
        package: ContentPackage,
        head: ContentVersion | None,
    ) -> ContentVersion:
        """Decide a Modify Process Action of ``author`` carrying the Item of the new version and,
        on Ack, store the version as current and queue it for every linked peer (one write)."""
        stored = self._store.get(content_id)
        author = author or stored.owner
        if author not in self._process_actions.world.processes:
            raise NotFound(f"no User Process {author} here to author a version", reason="USER_NOT_FOUND")
        now = self._clock_ms()
        version = ContentVersion.make(
            content_id=self.wire_id(content_id),
            parents=parents,
            author=author,
            time_ms=now,
            qualifier=qualifier,
            metadata=metadata,
            parts=_refs(package),
        )
        if head is not None and version.same_content(head):
            raise InvalidInput(
                f"this is what version {head.version_id[:12]} (the head) holds already", reason="CONTENT_UNCHANGED"
            )
        draft = version_doc(stored.item.doc, version)
        request = ProcessActionRequest(
            DeonticVerb.MAY,
            Action.MODIFY,
            author,
            author,
            complements(nil=content_id),
            now,
            # The engine reads a ProcessActionID as its requester's M-Instance's: a User roaming
            # here (the owner at home, MMM-TEC Resolution) acts under its home's id space.
            process_action_id=new_id(instance_or_none(author) or self.m_instance_id, "process-actions"),
            items=(draft,),
        )
        with self._store.database.write("content.modify"):
            status = self._process_actions.decide(request).status
            if status.is_ack:
                item = item_of(self._process_actions.world.items[content_id])
                self._store.add_version(version, package, current=item, now_ms=now, local_id=content_id)
        if not status.is_ack:
            code = status.error.value if status.error is not None else status.kind.value
            if status.error is PAErrorCode.INS_RIGHTS:
                raise PermissionDenied(f"Modify refused: {status.reason}", reason=code)
            raise InvalidInput(
                f"Modify refused ({code}): {status.reason}", reason="CONTENT_REFUSED", metadata={"pa_status": code}
            )
        return version

    # -- synchronisation (COSF, FGMV-43 9.3 steps 5-7) ------------------------------------------
    def link(self, content_id: str, peer: str) -> None:
        """Record at the home that the content migrated to ``peer``, and queue its history for it."""
        now = self._clock_ms()
        self._graph(content_id)
        self._store.link(content_id, peer, now_ms=now)
        self._store.queue_sync(content_id, now_ms=now, peer=peer)

    def require_linked(self, content_id: str, peer: str) -> None:
        """PermissionDenied ``NOT_LINKED`` unless the content stays in step with ``peer`` (its home,
        or a peer it migrated to); NotFound ``CONTENT_NOT_FOUND``."""
        self._store.get(content_id)
        if peer not in self._store.linked_peers(content_id):
            raise PermissionDenied(f"content {content_id} is not linked with {peer}", reason="NOT_LINKED")

    def apply_remote(
        self,
        content_id: str,
        origin: str,
        versions: Sequence[tuple[ContentVersion, ContentPackage]],
        renditions: Mapping[str, Rendition] | None = None,
    ) -> list[Applied]:
        """Apply versions from the linked peer ``origin``, in order, each once (by id): a version
        whose parents are not held, of another content or kind, or whose parts do not match is
        refused (nothing of it stored; the ones before it stay). Then the heads decide the
        current version: one head becomes current; two heads of a text content merge into a
        merge version (queued for every linked peer); a binary content keeps both heads.

        Each new version's author must hold the Modify Right here (COIR-302,
        :meth:`_require_modify_right`).

        Raises PermissionDenied ``NOT_LINKED`` / ``LICENCE_CHANGED`` (the licence is the owner's) /
        ``InsRights`` (the author may not Modify the content here),
        InvalidInput ``VERSION_OF_OTHER_CONTENT`` / ``CONTENT_KIND_CHANGED`` /
        ``CONTENT_METADATA_INVALID``, FailedPrecondition ``VERSION_PARENT_MISSING``, TooLarge
        ``TOO_MANY_VERSIONS`` (past :data:`MAX_VERSIONS` for one content), DataIntegrityError
        ``DIGEST_MISMATCH``...

        ``content_id`` may be the home's ItemID of a content converted here (:meth:`local_id`);
        ``renditions`` (by version id): the versions held here converted, their package the
        converted parts (:mod:`mmmfed.content.renditions`)."""
        content_id = self.local_id(content_id, origin)
        renditions = renditions or {}
        self.require_linked(content_id, origin)
        wire_id = self.wire_id(content_id)
        graph = self._graph(content_id)
        item = self._store.get(content_id).item
        kind = item.qualifier.get("SubType")
        licence = ContentMetadata.from_descr(item.doc.get("DescrMetadata") or {}).licence
        if len(graph.versions) + len(versions) > MAX_VERSIONS:
            raise TooLarge(
                f"content {content_id} would have over {MAX_VERSIONS} versions here",
                reason="TOO_MANY_VERSIONS",
                metadata={"limit": str(MAX_VERSIONS)},
            )
        results = []
        for version, package in versions:
            if version.content_id != wire_id:
                raise InvalidInput(
                    f"version {version.version_id[:12]} is of {version.content_id[:200]}, not {wire_id}",
                    reason="VERSION_OF_OTHER_CONTENT",
                )
            if version.version_id in graph.versions:
                results.append(Applied(version.version_id, False))
                continue
            missing = [p for p in version.parents if p not in graph.versions]
            if missing or (not version.parents and graph.versions):
                raise FailedPrecondition(
                    f"version {version.version_id[:12]} names parents not held here ({missing or 'none'})",
                    reason="VERSION_PARENT_MISSING",
                )
            if version.kind != kind:
                raise InvalidInput(
                    f"version {version.version_id[:12]} is {version.kind}, not {kind}", reason="CONTENT_KIND_CHANGED"
                )
            said = ContentMetadata.from_descr(version.metadata)  # CONTENT_METADATA_INVALID, LICENCE_UNKNOWN
            if said.licence != licence:  # the licence is the owner's, never changed by a peer's version
                raise PermissionDenied(
                    f"version {version.version_id[:12]} changes the licence {licence} to {said.licence}",
                    reason="LICENCE_CHANGED",
                )
            self._require_modify_right(version, content_id)
            added = self._store.add_version(
                version,
                package,
                now_ms=self._clock_ms(),
                except_peer=origin,
                local_id=content_id,
                rendition=renditions.get(version.version_id),
            )
            graph.versions[version.version_id] = version
            results.append(Applied(version.version_id, added))
        self._settle(content_id, graph)
        return results

    def _require_modify_right(self, version: ContentVersion, content_id: str) -> None:
        """COIR-302: this World's Rights on the content ``content_id`` (the Item this M-Instance
        holds: for a content converted here not the home's ItemID the version names) let the
        version's author Modify it now
        (a May Right and no May Not Right: :meth:`instance.world.world.World.may`, as the engine
        checks a Process Action's authority), whatever the sending M-Instance decided; else
        PermissionDenied ``InsRights`` (the PA Status Error the engine answers), metadata
        ``version_id`` and ``author``."""
        world = self._process_actions.world
        if world.may(version.author, Action.MODIFY, content_id, self._clock_ms()):
            return
        raise PermissionDenied(
            f"version {version.version_id[:12]}: {version.author[:256]} holds no May Right to"
            f" {Action.MODIFY.value} {content_id[:256]} in {self.m_instance_id}",
            reason=PAErrorCode.INS_RIGHTS.value,
            metadata={"version_id": version.version_id, "author": version.author[:256]},
        )

    def _settle(self, content_id: str, graph: VersionGraph) -> None:
        """Make the one head current, or merge two heads of a text content (see :meth:`apply_remote`)."""
        heads = graph.heads()
        stored = self._store.get(content_id)
        if len(heads) == 1:
            shapes = {v: r for v, (r, _) in self._store.rendition_items(content_id).items()}
            if _current_id(graph, stored.item, shapes) != heads[0].version_id:
                self._set_current(stored.item, heads[0])
            return
        if len(heads) > 1 and all(h.kind == ContentKind.TEXT.value and len(h.parts) == 1 for h in heads):
            merged = heads[0]
            for other in heads[1:]:
                merged = self._merge(graph, merged, other, stored.owner)
                graph.versions[merged.version_id] = merged
            self._set_current(stored.item, merged)

    def _merge(self, graph: VersionGraph, one: ContentVersion, two: ContentVersion, owner: str) -> ContentVersion:
        """The merge version of two text heads, the same on every side (sides ordered by id)."""
        ours, theirs = sorted((one, two), key=lambda v: v.version_id)
        base = graph.base_of(ours.version_id, theirs.version_id)
        text = {v.version_id: self._store.version_package(v).root.data for v in (ours, theirs)}
        base_text = self._store.version_package(base).root.data if base is not None else b""
        merged = merge_text(base_text, text[ours.version_id], text[theirs.version_id])
        root = ours.parts[0]
        package = ContentPackage((ContentPart.of(root.path, merged, root.media_type),))
        version = ContentVersion.make(
            content_id=ours.content_id,
            parents=(ours.version_id, theirs.version_id),
            author=owner,
            time_ms=max(ours.time_ms, theirs.time_ms),
            qualifier=ours.qualifier,
            metadata=merge_metadata(base.metadata if base else {}, ours.metadata, theirs.metadata),
            parts=_refs(package),
        )
        self._store.add_version(version, package, now_ms=self._clock_ms())
        return version

    def _set_current(self, item: Item, version: ContentVersion) -> None:
        rendition = self._store.rendition(version)
        doc = held_doc(item.doc, version, rendition)
        doc["Trace"] = [*(doc.get("Trace") or []), {"ProcessID": version.author, "Time": iso(version.time_ms)}][-64:]
        current = item_of(doc)
        package = rendition.package if rendition is not None else self._store.version_package(version)
        self._store.set_current(current, package)
        self._process_actions.world.items[current.item_id] = dict(current.doc)

    def export_versions(
        self, content_id: str, peer: str, *, known: set[str], max_bytes: int, ids_only: bool = False
    ) -> tuple[list[ContentVersion], list[tuple[ContentVersion, ContentPackage]], bool]:
        """For the linked ``peer``: every version id held here, and the versions it does not
        know with their parts, in arrival order, at most ``max_bytes`` of parts (at least one
        version); the flag says more are left. PermissionDenied ``NOT_LINKED``. ``content_id``
        may be the home's ItemID of a content converted here (:meth:`local_id`)."""
        content_id = self.local_id(content_id, peer)
        self.require_linked(content_id, peer)
        graph = self._graph(content_id)
        out: list[tuple[ContentVersion, ContentPackage]] = []
        size = 0
        more = False
        for version in graph.versions.values():
            if ids_only:
                break
            if version.version_id in known:
                continue
            if out and size + version.size > max_bytes:
                more = True
                break
            out.append((version, self._store.version_package(version)))
            size += version.size
        return list(graph.versions.values()), out, more


def _trace_ms(entry: Mapping[str, Any]) -> int:
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(str(entry.get("Time", "")).replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.timestamp() * 1000)


def _current_id(graph: VersionGraph, item: Item, converted: Mapping[str, Item] | None = None) -> str:
    """The version whose parts, Qualifier and metadata the content's Item holds (the latest
    such by arrival; for a version held converted, ``converted[version_id]``'s), "" when none."""
    refs = tuple(parts_of(item.doc))
    descr = dict(item.doc.get("DescrMetadata") or {})
    found = ""
    for vid, version in graph.versions.items():
        held = (converted or {}).get(vid)
        parts, metadata, qualifier = (
            (tuple(parts_of(held.doc)), held.doc.get("DescrMetadata") or {}, held.qualifier)
            if held is not None
            else (version.parts, version.metadata, version.qualifier)
        )
        if parts == refs and dict(metadata) == descr and dict(qualifier) == dict(item.qualifier):
            found = vid
    return found
