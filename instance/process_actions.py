"""The M-Instance's Inter-Process Protocol service: decides Process Actions here, or resolves
them through the gateway when the destination is a Process of another M-Instance.

:class:`ProcessActionService` owns the engine (``instance/world``), its World and Activity Data
(in the M-Instance's one database beside the asset ledger, replayed on start), and runs deferred
requests when their Time comes (:meth:`run_clock`). A request for a Process of another M-Instance (MMM-TEC Resolution):

1. is checked here first: well formed, from a local Process, and carrying only Items of this
   M-Instance on which the source holds a Right (nothing leaves that the source may not use);
2. gets the Items its Complements name attached, with their current ICapabilities (the Rights
   the other M-Instance will read);
3. goes to this instance's gateway (``PlatformGateway.Resolve``), which signs the Items and
   forwards it; the response and PA Status come back and are recorded in Activity Data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from instance.database import Database
from instance.world.activity import RESOLUTION_TRIGGER, ActivityLog
from instance.world.engine import ProcessActionEngine, describe, malformed
from instance.world.model import PAErrorCode, PAStatus, ProcessActionRequest, ProcessActionResponse, Profile
from instance.world.seed import new_world
from instance.world.spill import Spill
from instance.world.world import WalletLedger
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.items import domain_doc, instance_or_none

log = logging.getLogger(__name__)
Resolver = Callable[[ProcessActionRequest], Awaitable[ProcessActionResponse]]


def _now_ms() -> int:
    return int(time.time() * 1000)


class ProcessActionService:
    """Decides Process Actions for one M-Instance; see the module docstring.

    Args:
        m_instance_id: this M-Instance.
        database: the M-Instance's one database (:class:`~instance.database.Database`), where
            Activity Data is kept beside the asset ledger (None: a throwaway in-memory one).
        resolver: sends a request to another M-Instance (through the gateway); None refuses such
            requests with IncID.
        profile: the MMM-TEC Profile this M-Instance implements.
        ledger: the durable Wallets in the asset ledger's currency (``World.ledger``), attached
            before Activity Data is replayed.
    """

    def __init__(
        self,
        m_instance_id: str,
        *,
        database: Database | None,
        resolver: Resolver | None,
        profile: Profile = Profile.FINANCE,
        ledger: WalletLedger | None = None,
    ) -> None:
        self.m_instance_id = m_instance_id
        self._owns_database = database is None
        self.activity = ActivityLog(database if database is not None else Database(":memory:"))
        world = new_world(m_instance_id, profile=profile)
        world.ledger = ledger
        # Items, Transactions, Rights: the recent ones in memory, all in a throwaway file (rebuilt below).
        self._spill = Spill()
        items, world.items = world.items, self._spill.docs("items")
        world.items.update(items)
        world.transactions = self._spill.docs("transactions")
        rights, world.rights = world.rights, self._spill.rights()
        world.rights.update(rights)
        self.engine = ProcessActionEngine(world, self.activity)
        replayed = self.engine.replay()
        if replayed:
            log.info("activity data replayed", extra={"records": replayed})
        self._resolver = resolver
        self._lock = asyncio.Lock()

    @property
    def world(self) -> Any:
        return self.engine.world

    async def act(self, request: ProcessActionRequest, *, origin: str | None = None) -> ProcessActionResponse:
        """Decide ``request`` here, or resolve it at the destination's M-Instance.
        ``origin``: set only for a request that came through this instance's gateway."""
        if origin is None and self._is_foreign(request.destination_id):
            return await self._resolve(request)
        async with self._lock:
            return self.engine.handle(request, origin=origin)

    def decide(self, request: ProcessActionRequest) -> ProcessActionResponse:
        """Decide a request of a local Process here, at once (no Resolution): for services of
        this M-Instance that act through the World (``RegisterHuman`` sends Register). Call on
        the event loop's thread: the engine is not shared with worker threads."""
        return self.engine.handle(request)

    def adopt_asset(self, view: apb.AssetView) -> None:
        """Hold an Asset of the asset ledger in the World (its Item and the Rights its
        ICapabilities give; the Asset Transfer Service's Right while a transfer locks it). The
        ledger is the World's durable store for Assets: what it holds is adopted on start."""
        doc = domain_doc(view.asset.item_json)
        self.engine.world.adopt_asset(doc, locked_by=view.locked_by if view.state == "LOCKED" else "")

    def close(self) -> None:
        """Close the database if this service made it (a shared one is closed by its owner) and the
        World's spill of Items and Transactions."""
        if self._owns_database:
            self.activity.close()
        self._spill.close()

    async def run_clock(self, *, period_s: float = 1.0, clock: Callable[[], int] = _now_ms) -> None:
        """Run deferred requests whose Time has come, every ``period_s`` seconds, until cancelled."""
        while True:
            async with self._lock:
                for response in self.engine.tick(clock()):
                    log.info(
                        "deferred process action ran",
                        extra={
                            "process_action_id": response.process_action_id,
                            "pa_status": response.status.kind.value,
                        },
                    )
            await asyncio.sleep(period_s)

    def _is_foreign(self, identifier: object) -> bool:
        found = instance_or_none(identifier)
        return found is not None and found != self.m_instance_id

    async def _resolve(self, request: ProcessActionRequest) -> ProcessActionResponse:
        refusal = self._outbound_refusal(request)
        if refusal is not None:
            response = ProcessActionResponse(request.process_action_id, refusal, time_ms=request.time_ms)
        else:
            assert self._resolver is not None
            outgoing = replace(request, items=self._attach(request))
            response = await self._resolver(outgoing)
            request = outgoing
        self._record(request, response)
        return response

    def _outbound_refusal(self, request: ProcessActionRequest) -> PAStatus | None:
        world = self.engine.world
        problem = malformed(request)
        if problem is not None:
            return PAStatus.fail(PAErrorCode.FAULTY_REQ, problem)
        if self._resolver is None:
            return PAStatus.fail(
                PAErrorCode.INC_ID, f"{self.m_instance_id} has no gateway to reach {request.destination_id}"
            )
        if request.source_id not in world.processes or not world.is_local(request.source_id):
            return PAStatus.fail(PAErrorCode.INC_ID, f"{request.source_id} is not a Process of {self.m_instance_id}")
        for doc in request.items:
            item_id = str(doc.get("ItemID", ""))
            if not world.is_local(item_id):
                return PAStatus.fail(
                    PAErrorCode.INC_ID, f"a request leaving {self.m_instance_id} carries only its Items"
                )
            if not self._may_carry(request.source_id, item_id):
                return PAStatus.fail(
                    PAErrorCode.INS_RIGHTS, f"{request.source_id} holds no Right on {item_id}: it cannot carry it"
                )
        return None

    def _may_carry(self, source: str, item_id: str) -> bool:
        """Whether ``item_id`` is an Item held here on which ``source`` holds a Right (or a
        Transaction it paid with): only such Items leave, signed by this M-Instance."""
        world = self.engine.world
        return item_id in world.items and (
            bool(world.held_on(source, (item_id,)))
            or world.transactions.get(item_id, {}).get("PayerProcessID") == source
        )

    def _attach(self, request: ProcessActionRequest) -> tuple[dict[str, Any], ...]:
        """The carried Items and the Items of this M-Instance the Complements name, each as this
        M-Instance holds it (never the client's copy) with its current ICapabilities, if the source
        may carry it (:meth:`_may_carry`)."""
        world = self.engine.world
        refs = [str(doc.get("ItemID")) for doc in request.items]
        refs += [c.ref_id for c in request.complements if not c.is_process]
        carried: dict[str, dict[str, Any]] = {}
        for ref in refs:
            if ref in carried or not world.is_local(ref) or not self._may_carry(request.source_id, ref):
                continue
            doc = dict(world.items[ref])  # the Item as held here, never the client's copy
            if doc.get("ItemType") == "ITM":
                doc["ICapabilities"] = world.capabilities_doc(ref)
            carried[ref] = doc
        return tuple(carried.values())

    def _record(self, request: ProcessActionRequest, response: ProcessActionResponse) -> None:
        refs = [
            request.source_id,
            request.destination_id,
            *(c.ref_id for c in request.complements),
            *(c.ref_id for c in response.complements),
        ]
        rules = self.engine.world.rules.in_force(response.time_ms)
        self.activity.append(
            describe(request),
            request,
            response,
            trigger=RESOLUTION_TRIGGER,
            origin=None,
            rules_version=rules.version_id,
            refs=refs,
        )
