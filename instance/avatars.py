"""Avatars of the reference M-Instance: registration of humans, export and import (RI-1).

Plain class over a :class:`~mmmfed.store.Store`; the gRPC servicer only decodes and encodes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instance.process_actions import ProcessActionService
from instance.world.model import (
    Action,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    ProcessActionRequest,
    ProcessActionResponse,
)
from mmmfed.config import InstanceConfig
from mmmfed.errors import AlreadyExists, FailedPrecondition, InvalidInput, NotFound
from mmmfed.glb import GlbFacts, inspect_glb, inspect_glb_file
from mmmfed.items import (
    DataBinding,
    Item,
    build_item,
    instance_of,
    item_document,
    item_of,
    new_id,
    parse_item,
)
from mmmfed.manifesto import feature_from_config, violations
from mmmfed.store import BlobWriter, StagedBlob, Store
from mmmfed.streams import CHUNK_BYTES

PERSONA = "Persona"
_HUMAN_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Registration:
    """What registering a human created (Items, exact bytes)."""

    user: Item
    account: Item
    personal_profile: Item
    persona: Item


@dataclass(frozen=True)
class Imported:
    roaming_user: Item
    persona: Item
    bytes_received: int


def facts_of(glb: GlbFacts) -> dict[str, Any]:
    """Qualifier facts in the shape :func:`mmmfed.manifesto.violations` reads."""
    return {
        "triangles": glb.triangles,
        "max_texture_px": glb.max_texture_px,
        "bytes": glb.size,
        "texture_formats": list(glb.texture_formats),
    }


def _declared_facts(item: Item) -> dict[str, Any]:
    attrs = item.qualifier.get("Attributes") or {}
    data = item.data
    try:
        return {
            "triangles": int(attrs["Triangles"]),
            "max_texture_px": int(attrs.get("MaxTexturePx", 0)),
            "bytes": data.size if data else 0,
            "texture_formats": [f for f in str(attrs.get("TextureFormats", "")).split(",") if f],
        }
    except (KeyError, ValueError) as err:
        raise InvalidInput(
            "Persona ItemQualifier.Attributes must state Triangles (and may state MaxTexturePx, TextureFormats)",
            reason="ITEM_MALFORMED",
        ) from err


class AvatarService:
    """Register humans, and export and import Personae (FGMV-43 9.1 steps 1 and 4)."""

    def __init__(self, config: InstanceConfig, store: Store, process_actions: ProcessActionService) -> None:
        self._cfg = config
        self._store = store
        self._process_actions = process_actions
        self._id = config.m_instance_id
        self._process_id = new_id(self._id, "processes/service", "avatar-service")
        self._produces = [feature_from_config(f) for f in config.manifesto.produces]
        self._accepts = [feature_from_config(f) for f in config.manifesto.accepts]

    # -- registration -------------------------------------------------------------------
    def stage(self, *, expected_size: int | None = None, expected_sha256: str | None = None) -> Any:
        return self._store.stage_blob(
            expected_size=expected_size, expected_sha256=expected_sha256, max_bytes=self._cfg.max_item_bytes
        )

    def register_human(
        self,
        *,
        human_name: str,
        display_name: str,
        file_name: str,
        licence: str,
        blob: StagedBlob,
        facts: GlbFacts | None = None,
    ) -> Registration:
        """Register a human: the convenience RPC sends the World's Register Process Action, so the
        User is a Process the Process Action engine knows (FGMV-43 9.1; MMM-TEC Register), and
        stores the Persona's data.

        Raises InvalidInput: ``BAD_HUMAN_NAME``, ``GLB_MALFORMED``/``GLB_TRUNCATED`` (the file),
        ``QUALIFIER_NOT_SUPPORTED`` (a format this instance does not produce),
        ``CONSTRAINTS_NOT_MET`` (outside the limits its manifesto promises for that format). AlreadyExists if
        the human is registered. On error the staged file is removed and nothing is stored.
        ``facts``: the file's, from :meth:`inspect_staged` (read here when None).
        """
        try:
            if not _HUMAN_NAME.match(human_name):
                raise InvalidInput(f"human name {human_name!r} must be 1-63 of a-z 0-9 . _ -", reason="BAD_HUMAN_NAME")
            user_id = new_id(self._id, "processes/user", human_name)
            if user_id in self._process_actions.world.processes:
                raise AlreadyExists(f"{user_id} is already registered", metadata={"process_id": user_id})
            glb = facts if facts is not None else inspect_glb_file(blob.path)
            produced = [
                f for f in self._produces if f.qualifier.format == glb.format and f.qualifier.sub_type == PERSONA
            ]
            if not produced:
                raise InvalidInput(
                    f"{glb.format} is not a format this M-Instance produces", reason="QUALIFIER_NOT_SUPPORTED"
                )
            # What the manifesto promises peers: a Persona this instance registers fits its own limits.
            problems = violations(facts_of(glb), produced[0].constraints)
            if problems:
                raise InvalidInput(
                    f"this M-Instance promises {glb.format} Personae within limits: {'; '.join(problems)}",
                    reason="CONSTRAINTS_NOT_MET",
                )
        except BaseException:
            blob.path.unlink(missing_ok=True)
            raise
        try:
            registration = self._register(user_id, display_name, file_name, licence, glb, blob)
        except BaseException:
            blob.path.unlink(missing_ok=True)
            raise
        persona = registration.persona
        self._store.put_item(persona, item_type="ITM", owner_id=user_id, blob=blob)
        return registration

    def _register(
        self, user_id: str, display_name: str, file_name: str, licence: str, glb: GlbFacts, blob: StagedBlob
    ) -> Registration:
        """Send the World's Register Process Action (the App asks the Registration Service) with
        the Personal Profile and Persona drafts; the World creates the User and Device Processes,
        the Account, the Wallet and the Rights (``instance/world/actions/identity.py``).

        Raises AlreadyExists (PA Status Error Clash), InvalidInput ``PA_<code>`` for any other
        Error."""
        persona_id = new_id(self._id, "items")
        persona = item_document(
            m_instance_id=self._id,
            item_id=persona_id,
            item_type="ITM",
            qualifier={"SubType": PERSONA, "Format": glb.format, "Attributes": glb.attributes()},
            data=DataBinding(blob.size, blob.sha256, "model/gltf-binary"),
            producer_process_id=self._process_id,
            descr={"Name": f"{display_name}'s avatar", "FileName": file_name, "Licence": licence},
        )
        profile, response = self._send_register("app", user_id, persona, descr={"Name": display_name})
        status = response.status
        if not status.is_ack:
            code = status.error.value if status.error is not None else status.kind.value
            if status.error is PAErrorCode.CLASH:
                raise AlreadyExists(
                    f"{user_id} is already registered: {status.reason}", metadata={"process_id": user_id}
                )
            raise InvalidInput(
                f"Register refused ({code}): {status.reason}",
                reason="REGISTRATION_REFUSED",
                metadata={"pa_status": code},
            )
        items = self._process_actions.world.items
        account_id = next(c.ref_id for c in response.complements if c.kind is ComplementKind.OF)  # Ack: named
        return Registration(
            user=item_of(items[user_id]),
            account=item_of(items[account_id]),
            personal_profile=item_of(items[str(profile["ItemID"])]),
            persona=item_of(items[persona_id]),
        )

    def _send_register(
        self, source: str, user_id: str, persona: dict[str, Any], *, descr: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], ProcessActionResponse]:
        """Send the World's Register (MMM-TEC) of ``user_id`` with ``persona``, asked by the local
        Process ``source`` (the App for a human registered here, the Resolution Service for a
        visitor) of the Registration Service; returns the Personal Profile sent and the response."""
        profile = item_document(
            m_instance_id=self._id,
            item_id=new_id(self._id, "profiles"),
            item_type="PPR",
            qualifier={"SubType": "PersonalProfile"},
            producer_process_id=self._process_id,
            extra={"ProcessID": user_id, "Personae": [persona["ItemID"]]},
            descr=descr,
        )
        asking, registration = (new_id(self._id, "processes", name) for name in (source, "registration"))
        request = ProcessActionRequest(
            DeonticVerb.MAY,
            Action.REGISTER,
            asking,
            registration,
            time_ms=int(time.time() * 1000),
            process_action_id=new_id(self._id, "process-actions"),
            items=(profile, persona),
        )
        return profile, self._process_actions.decide(request)

    # -- export (RI-1, 9.1 step 1) ---------------------------------------------------------
    def persona_of(self, user_process_id: str) -> Item:
        """The User's current Persona (the last one Register gave it, here or on arrival);
        NotFound (``USER_NOT_FOUND`` / ``PERSONA_NOT_FOUND``)."""
        world = self._process_actions.world
        if user_process_id not in world.processes:
            raise NotFound(f"no User {user_process_id} here", reason="USER_NOT_FOUND")
        personae = world.personae.get(user_process_id) or []
        if not personae:
            raise NotFound(f"User {user_process_id} has no Persona", reason="PERSONA_NOT_FOUND")
        return item_of(world.items[personae[-1]])

    def export(self, user_process_id: str) -> tuple[Item, Iterator[bytes]]:
        """The Persona Item and its data in chunks (FGMV-43 9.1 step 1)."""
        persona = self.persona_of(user_process_id)
        if instance_of(user_process_id) != self._id:
            raise FailedPrecondition(
                f"{user_process_id} is roaming here; export it from its home instance",
                reason="NOT_HOME_USER",
            )
        binding = persona.data
        assert binding is not None  # every Persona is stored with its data
        return persona, self._store.read_blob(binding.sha256, chunk_bytes=CHUNK_BYTES)

    # -- import (RI-1, 9.1 step 4) ---------------------------------------------------------
    def check_incoming(self, persona_json: bytes, home_user_process_id: str) -> Item:
        """Check a foreign Persona before its data arrives: well-formed, from the User's home
        instance, a Qualifier this instance accepts, within its constraints (AVIR-202 reasons).

        Raises InvalidInput: ``ITEM_MALFORMED``, ``BAD_IDENTIFIER``, ``ORIGIN_MISMATCH``,
        ``QUALIFIER_NOT_SUPPORTED`` (MMM QualNS), ``CONSTRAINTS_NOT_MET``.
        """
        persona = parse_item(persona_json)
        home = instance_of(home_user_process_id)
        if home == self._id:
            raise InvalidInput(f"{home_user_process_id} is a local User, not a visitor", reason="ORIGIN_MISMATCH")
        if persona.m_instance_id != home:
            raise InvalidInput(
                f"Persona belongs to {persona.m_instance_id}, the User's home is {home}", reason="ORIGIN_MISMATCH"
            )
        if persona.data is None or persona.qualifier.get("SubType") != PERSONA:
            raise InvalidInput("Item is not a Persona with data", reason="ITEM_MALFORMED")
        self._check_accepted(persona.format, _declared_facts(persona))
        return persona

    def _check_accepted(self, fmt: str, facts: dict[str, Any]) -> None:
        matching = [a for a in self._accepts if a.qualifier.format == fmt and a.qualifier.sub_type == PERSONA]
        if not matching:
            raise InvalidInput(
                f"this M-Instance does not accept Personae in {fmt or 'an unnamed format'}",
                reason="QUALIFIER_NOT_SUPPORTED",
                metadata={"format": fmt, "pa_status": "QualNS"},
            )
        problems = violations(facts, matching[0].constraints)
        if problems:
            raise InvalidInput(
                f"Persona exceeds this M-Instance's constraints: {'; '.join(problems)}",
                reason="CONSTRAINTS_NOT_MET",
            )

    async def inspect_staged(self, blob: StagedBlob) -> GlbFacts:
        """The staged file's GLB facts, read in a worker thread so a large JSON chunk does not
        block the event loop (issue 12 item 6). On error (InvalidInput ``GLB_MALFORMED`` /
        ``GLB_TRUNCATED``) the staged file is removed."""
        try:
            return await asyncio.to_thread(inspect_glb_file, blob.path)
        except BaseException:
            blob.path.unlink(missing_ok=True)
            raise

    def complete_import(
        self, persona: Item, home_user_process_id: str, blob: StagedBlob, *, facts: GlbFacts | None = None
    ) -> Imported:
        """Check the received data is the declared format, then store the Persona and bind it to
        a roaming User whose ProcessID is the home one (IDIR-101, IDIR-103). ``facts``: the
        file's, from :meth:`inspect_staged` (read here when None)."""
        try:
            glb = facts if facts is not None else inspect_glb_file(blob.path)
            if glb.format != persona.format:
                raise InvalidInput(
                    f"data is {glb.format}, the Item declares {persona.format}", reason="QUALIFIER_MISMATCH"
                )
            self._check_accepted(glb.format, facts_of(glb))
        except BaseException:
            blob.path.unlink(missing_ok=True)
            raise
        try:
            roaming = self._register_roaming(persona, home_user_process_id)
        except BaseException:
            blob.path.unlink(missing_ok=True)
            raise
        self._store.put_item(persona, item_type="ITM", owner_id=home_user_process_id, blob=blob)
        return Imported(roaming, persona, blob.size)

    def _register_roaming(self, persona: Item, home_user_process_id: str) -> Item:
        """Send the World's Register of a roaming User (the Resolution Service asks, with the
        visitor's Personal Profile and the Persona its home gateway sent): the visitor is a Process
        the engine knows, under its home ProcessID (IDIR-103). Returns its PRC Item. InvalidInput
        ``REGISTRATION_REFUSED`` with the PA Status if the World refuses."""
        status = self._send_register("resolution", home_user_process_id, dict(persona.doc))[1].status
        if not status.is_ack:
            code = status.error.value if status.error is not None else status.kind.value
            raise InvalidInput(
                f"Register of visitor {home_user_process_id} refused ({code}): {status.reason}",
                reason="REGISTRATION_REFUSED",
                metadata={"pa_status": code},
            )
        world = self._process_actions.world
        return item_of(world.items[world.visitor_item_id(home_user_process_id)])

    def read_item(self, item_id: str) -> tuple[Item, Iterator[bytes]]:
        """A stored Item and its data in chunks (none for an Item without data);
        NotFound (``ITEM_NOT_FOUND``)."""
        item = self._store.get_item(item_id)
        binding = item.data
        if binding is None:
            return item, iter(())
        return item, self._store.read_blob(binding.sha256, chunk_bytes=CHUNK_BYTES)

    # -- default avatar (AVIR-001) ---------------------------------------------------------
    def default_avatar(self) -> Item:
        """This instance's default avatar; FailedPrecondition ``NO_DEFAULT_AVATAR`` if none."""
        found = self._store.find_items(item_type="ITM", owner_id=self._process_id)
        if not found:
            raise FailedPrecondition("this M-Instance has no default avatar", reason="NO_DEFAULT_AVATAR")
        return found[-1]

    def install_default_avatar(self, path: Path) -> Item:
        """Register ``path`` (GLB) as the default avatar, once; returns the Item."""
        existing = self._store.find_items(item_type="ITM", owner_id=self._process_id)
        if existing:
            return existing[-1]
        data = path.read_bytes()
        with self.stage(expected_size=len(data)) as writer:
            writer.write(data)
            blob = writer.finish()
        glb = inspect_glb(data)
        item = build_item(
            m_instance_id=self._id,
            item_type="ITM",
            qualifier={"SubType": PERSONA, "Format": glb.format, "Attributes": glb.attributes()},
            data=DataBinding(blob.size, blob.sha256, "model/gltf-binary"),
            producer_process_id=self._process_id,
            descr={"Name": "default avatar", "FileName": path.name},
        )
        self._store.put_item(item, item_type="ITM", owner_id=self._process_id, blob=blob)
        return item


async def receive(chunks: AsyncIterator[bytes], writer: BlobWriter) -> StagedBlob:
    """Write every chunk to ``writer`` and finish it; abort (remove the file) on any error.

    Hashing and writing chunk N run in a worker thread while chunk N+1 is received (both
    release the GIL), so a large Item streams at the pace of the slower of the two.
    """
    with writer:
        pending: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                writer.admit(len(chunk))  # refuse an oversized stream as it arrives
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(writer.write_admitted, chunk))
            if pending is not None:
                await pending
        except BaseException:
            if pending is not None and not pending.done():
                await asyncio.wait([pending])
            raise
        return await asyncio.to_thread(writer.finish)
