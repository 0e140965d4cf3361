"""The synchronisation channels in federation transactions (issue 18 item 2), beside the same work
done by single calls, measured in the same run.

What is measured, on a loopback federation running in this process (both M-Instances, both
gateways and the bridge; real gRPC over mutual TLS on loopback):

* ``identity`` (FGMV-43 9.4 step 5, IDSF): ``--users`` users of a.example, linked to b.example with
  their name and age_over_18, are re-issued at home with a new name; one pass of a's push worker
  brings every update to b. ``transactions`` (the default): one RE-4 GetNonce for up to 50 users
  and one RE-1 SendTransaction carrying their updates. ``single`` (``IdentitySync.outbox`` set to
  None, as before issue 18 item 2): a GetNonce and a PushIdentityUpdate per user.
* ``content`` (FGMV-43 9.3 steps 5-7, COSF): ``--contents`` text contents linked with b.example
  get a new version each; one pass of a's content queue brings them to b. ``transactions``: the
  gateway carries the pulls and pushes of the contents synchronised side by side together.
  ``single`` (``ContentVersionSync.outbox`` None): one RE-3 ExchangeContentVersions per message.

Figure: CPU time of this process (the whole federation runs in it) per update, over ``--rounds``
rounds alternating the two modes (the median of each); and the wall time per pass. Exits
non-zero if an update does not arrive.

Last line: ``RESULT identity_cpu_vs_single=R content_cpu_vs_single=C ...`` (below 1: the
transactions cost less).

Run (from the checkout):  .venv/bin/python bench/sync_channels.py [--users 50] [--contents 16] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import grpc
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script (python bench/sync_channels.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import content_pb2_grpc, identity_pb2_grpc
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.cli.demo_identity import issue
from mmmfed.cli.inprocess import Federation, peer, start_federation
from mmmfed.cli.loopback import A, B
from mmmfed.identity.linked import LinkedIdentities
from mmmfed.identity.user_did import user_did
from mmmfed.items import domain_doc
from mmmfed.rpc import call
from mmmfed.tls import secure_channel

MODES = ("transactions", "single")
BORN = dt.date(1990, 5, 17)
OWNER = f"mmm://{A}/processes/user/owner"


class Identity:
    """The identity half: link ``users`` once, then re-issue and push them, round by round."""

    def __init__(self, fed: Federation, users: int) -> None:
        self.fed = fed
        self.users = [f"user{i:03d}" for i in range(users)]
        self.version = 1

    async def link(self) -> None:
        gateway = self.fed.plan.gateway_a
        await self.fed.nodes["gateway-a"].identity_push.stop()  # the passes are run here
        for user in self.users:
            issue(gateway.data_dir, f"mmm://{A}/processes/user/{user}", name=user, birthdate=BORN)
        async with secure_channel(self.fed.plan.operators[A], peer(gateway)) as channel:
            home = identity_pb2_grpc.IdentityGatewayStub(channel)
            for user in self.users:
                request = ipb.MigrateIdentityRequest(
                    process_id=f"mmm://{A}/processes/user/{user}",
                    peer_m_instance_id=B,
                    disclose=["name", "age_over_18"],
                )
                await call(partial(home.MigrateIdentity, request), attempts=1)

    async def round(self, mode: str) -> tuple[float, float]:
        """(CPU seconds, wall seconds) of one pass pushing every user's new version."""
        node = self.fed.nodes["gateway-a"]
        outbox = node.sync_outbox
        node.identity_sync.outbox = outbox if mode == "transactions" else None
        self.version += 1
        for user in self.users:
            issue(
                self.fed.plan.gateway_a.data_dir,
                f"mmm://{A}/processes/user/{user}",
                name=f"{user} v{self.version}",
                birthdate=BORN,
            )
        cpu, wall = time.process_time(), time.perf_counter()
        await node.identity_push.run_once()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        node.identity_sync.outbox = outbox
        at_b = LinkedIdentities(self.fed.plan.gateway_b.data_dir / "identity" / "linked", B)
        behind = [u for u in self.users if (r := at_b.get(A, user_did(A, u))) is None or r.version != self.version]
        if behind:
            raise SystemExit(f"identity ({mode}): {len(behind)} updates did not reach {B}, e.g. {behind[0]}")
        return cpu, wall


class Content:
    """The content half: publish and migrate ``contents`` once, then update and synchronise them."""

    def __init__(self, fed: Federation, contents: int) -> None:
        self.fed = fed
        self.count = contents
        self.ids: list[str] = []
        self.version = 1

    def _stub(self, channel: grpc.aio.Channel) -> content_pb2_grpc.ContentAsyncStub:
        return content_pb2_grpc.ContentStub(channel)

    async def link(self) -> None:
        assert self.fed.at_a is not None
        await self.fed.at_a.register_process(OWNER)
        for node in ("instance-a", "instance-b"):
            worker = self.fed.nodes[node].content_sync
            assert worker is not None
            await worker.stop()  # the passes are run here
        instance = self.fed.plan.instance_a
        async with secure_channel(self.fed.plan.operator_for(instance), peer(instance)) as channel:
            stub = self._stub(channel)
            for i in range(self.count):
                publish = cpb.PublishContentRequest(
                    owner_process_id=OWNER,
                    parts=[cpb.ContentPartData(path=f"note{i}.md", data=self._text(i))],
                    title=f"Note {i}",
                    licence="CC-BY-4.0",
                )
                view = await call(partial(stub.PublishContent, publish), attempts=1)
                content_id = str(domain_doc(view.item.item_json)["ItemID"])
                migrate = cpb.MigrateContentRequest(content_id=content_id, peer_m_instance_id=B)
                await call(partial(stub.MigrateContent, migrate), attempts=1)
                self.ids.append(content_id)

    def _text(self, i: int) -> bytes:
        return f"# Note {i}\n\nline one\nline two\nversion {self.version}\n".encode()

    async def round(self, mode: str) -> tuple[float, float]:
        """(CPU seconds, wall seconds) of one pass synchronising every content's new version."""
        gateway = self.fed.nodes["gateway-a"]
        outbox = gateway.sync_outbox
        gateway.content_sync.outbox = outbox if mode == "transactions" else None
        self.version += 1
        instance = self.fed.plan.instance_a
        async with secure_channel(self.fed.plan.operator_for(instance), peer(instance)) as channel:
            stub = self._stub(channel)
            heads = {}
            for i, content_id in enumerate(self.ids):
                update = cpb.UpdateContentRequest(
                    content_id=content_id, parts=[cpb.ContentPartData(path=f"note{i}.md", data=self._text(i))]
                )
                made = await call(partial(stub.UpdateContent, update), attempts=1)
                heads[content_id] = made.version_id
        worker = self.fed.nodes["instance-a"].content_sync
        cpu, wall = time.process_time(), time.perf_counter()
        await worker.drain_once()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        gateway.content_sync.outbox = outbox
        contents_b = self.fed.nodes["instance-b"].contents
        behind = [c for c in self.ids if [h.version_id for h in contents_b.history(c).heads] != [heads[c]]]
        if behind:
            raise SystemExit(f"content ({mode}): {len(behind)} versions did not reach {B}, e.g. {behind[0]}")
        return cpu, wall


async def measure(users: int, contents: int, rounds: int) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per channel and mode, each round's (CPU seconds, wall seconds)."""
    with tempfile.TemporaryDirectory(prefix="mmmfed-sync-bench-") as workdir:
        fed = await start_federation(Path(workdir))
        try:
            assert fed.at_a is not None
            await fed.at_a.negotiate(B)
            channels: dict[str, Identity | Content] = {
                "identity": Identity(fed, users),
                "content": Content(fed, contents),
            }
            for channel in channels.values():
                await channel.link()
            out: dict[str, dict[str, list[tuple[float, float]]]] = {name: {m: [] for m in MODES} for name in channels}
            for r in range(rounds):
                for name, channel in channels.items():
                    for mode in MODES if r % 2 == 0 else reversed(MODES):  # alternate which runs first
                        out[name][mode].append(await channel.round(mode))
            return out
        finally:
            await fed.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="linked users pushed per pass (default 50)")
    parser.add_argument("--contents", type=int, default=16, help="linked contents synchronised per pass (default 16)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per mode, alternating (default 6)")
    parser.add_argument("--quick", action="store_true", help="10 users, 8 contents, 2 rounds")
    args = parser.parse_args()
    users, contents, rounds = (10, 8, 2) if args.quick else (args.users, args.contents, args.rounds)
    if users < 1 or contents < 1 or rounds < 1:
        parser.error("--users, --contents and --rounds must be at least 1")
    results = asyncio.run(measure(users, contents, rounds))
    console = Console(width=80)
    table = Table(title=f"one pass: {users} identity updates, {contents} content versions ({rounds} rounds)")
    for column in ("channel", "mode", "CPU ms/update", "wall ms/pass"):
        table.add_column(column, justify="left" if column in ("channel", "mode") else "right")
    ratios = {}
    for name, per_mode in results.items():
        n = users if name == "identity" else contents
        cpu = {m: statistics.median(c for c, _ in per_mode[m]) / n for m in MODES}
        for mode in MODES:
            wall = statistics.median(w for _, w in per_mode[mode])
            table.add_row(name, mode, f"{cpu[mode] * 1000:.2f}", f"{wall * 1000:.0f}")
        ratios[name] = cpu["transactions"] / cpu["single"]
    console.print(table)
    print(
        f"RESULT identity_cpu_vs_single={ratios['identity']:.2f} content_cpu_vs_single={ratios['content']:.2f} "
        f"users={users} contents={contents} rounds={rounds}"
    )


if __name__ == "__main__":
    main()
