"""``mmmfed demo``: two M-Instances, their gateways and a bridge, each its own process on
loopback; negotiate (FGMV-43 9.5), register three humans at a.example, migrate their avatars to
b.example (9.1), an Asset with a payment (9.2) and two identities (9.4: one linked with only the
claims chosen, one under 18 refused, then an unlink with its receipt:
:mod:`mmmfed.cli.demo_identity`) and two contents (9.3: a .gltf converted by the bridge and a
note, each edited at both sides at once, the note merged, the model's conflict resolved:
:mod:`mmmfed.cli.demo_content`),
print a report, write the converted GLBs, and stop every
process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.cli.asset_render import exchange_line
from mmmfed.cli.demo_content import B_CONTENT_POLICIES, content_step
from mmmfed.cli.demo_identity import identity_step
from mmmfed.cli.loopback import BRIDGE, A, B, LoopbackPlan, plan, samples_dir
from mmmfed.cli.processes import NodeProcesses
from mmmfed.cli.render import feature_table, migration_detail, migration_summary
from mmmfed.client import OperatorClient, read_item
from mmmfed.config import PeerAddress
from mmmfed.errors import MmmfedError
from mmmfed.items import FORMAT_GLB, domain_doc

# (human name, avatar file under ../shared/samples, licence / credit)
DEMO_HUMANS = (
    ("godette", "vrm/godot-vrm_Godette/Godette_vrm_v4.vrm", "CC-BY 3.0, Godette by the godot-vrm project"),
    (
        "mtoon",
        "vrm/vrm-specification_VRMC_materials_mtoon_UV_Animation_Test/VRMC_materials_mtoon_UV_Animation_Test.vrm",
        "VRM Public License 1.0",
    ),
    ("sphere", "vrm/VRM-Addon-for-Blender_tests/sphere.vrm", "CC0"),
)


async def _scenario(p: LoopbackPlan, procs: NodeProcesses, out: Path, console: Console) -> int:
    await procs.wait_ready(p)
    samples = samples_dir()
    async with (
        OperatorClient(
            p.operators[A],
            instance=PeerAddress(tls_name=p.instance_a.tls_name, address=p.instance_a.listen),
            gateway=PeerAddress(tls_name=p.gateway_a.tls_name, address=p.gateway_a.listen),
        ) as at_a,
        OperatorClient(
            p.operators[B],
            instance=PeerAddress(tls_name=p.instance_b.tls_name, address=p.instance_b.listen),
            gateway=PeerAddress(tls_name=p.gateway_b.tls_name, address=p.gateway_b.listen),
        ) as at_b,
    ):
        console.print(Rule("1. Manifesto negotiation (FGMV-43 9.5)"))
        t0 = time.perf_counter()
        negotiated = await at_a.negotiate(B)
        console.print(feature_table(negotiated.answer))
        agreement = json.loads(negotiated.agreement_json)
        signers = ", ".join(p["verificationMethod"] for p in agreement["proof"])
        console.print(f"trust agreement {agreement['AgreementID']} ACTIVE, signed by {signers}")
        console.print(
            f"virtual bridge {negotiated.answer.virtual_bridge_id or '-'}; answer manifesto "
            f"{negotiated.answer.manifesto_id} stored at gateway.{A} ({time.perf_counter() - t0:.3f} s)"
        )

        console.print(Rule(f"2. Registration of humans at {A}"))
        users = []
        for human, rel, licence in DEMO_HUMANS:
            reg = await at_a.register_human(human, samples / rel, licence=licence)
            facts = domain_doc(reg.persona.item_json)
            console.print(
                f"{reg.user_process_id}: Persona {facts['ItemID']} "
                f"({facts['ItemQualifier']['Format']}, {facts['ItemData']['Size']:,} bytes)"
            )
            users.append((human, Path(rel).name, reg.user_process_id))

        console.print(Rule(f"3. Avatar migration {A} -> {B} (FGMV-43 9.1 steps 1-4)"))
        rows: list[tuple[str, gpb.MigrateAvatarResponse]] = []
        for human, file_name, user_id in users:
            result = await at_a.migrate(user_id, B)
            rows.append((file_name, result))
            console.print(migration_detail(f"{file_name} ({user_id})", result))
            if result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED:
                item_id = domain_doc(result.peer_persona.item_json)["ItemID"]
                _, data = await read_item(at_b.instance, item_id)
                target = out / f"{human}.glb"
                await asyncio.to_thread(target.write_bytes, data)
                console.print(f"wrote {target} ({len(data):,} bytes, read back from {B})")
        console.print(Rule(f"4. Asset migration {A} -> {B} with a payment (FGMV-43 9.2, ASEF)"))
        await _asset_step(at_a, at_b, users[0][2], samples, console)
        console.print(Rule(f"5. Identity migration {A} -> {B} with the user's scope (FGMV-43 9.4, IDIR-204/303)"))
        identities_ok = await identity_step(p, users[0][2], users[1][2], console)
        console.print(Rule(f"6. Content migration and synchronisation {A} <-> {B} (FGMV-43 9.3, COIR-104)"))
        contents_ok = await content_step(p, procs, users[0][2], samples, console)
        console.print(Rule("Summary"))
        console.print(migration_summary(rows))
    migrated = sum(r.outcome == gpb.MIGRATION_OUTCOME_MIGRATED for _, r in rows)
    console.print(f"[bold]{migrated} of {len(rows)} avatars migrated; converted files in {out}[/]")
    return 0 if identities_ok and contents_ok else 1


async def _asset_step(at_a: OperatorClient, at_b: OperatorClient, owner: str, samples: Path, console: Console) -> None:
    """Register a glTF model as an Asset of ``owner``, fund it, and migrate it to bob at b.example
    with a payment exchanged by a.example's policy; print the journal's progress and outcome."""
    box = samples / "gltf" / "BoxTextured" / "BoxTextured.glb"
    data = await asyncio.to_thread(box.read_bytes)
    registered = await at_a.instance.RegisterAsset(
        apb.RegisterAssetRequest(owner_process_id=owner, format=FORMAT_GLB, media_type="model/gltf-binary", data=data)
    )
    asset_id = domain_doc(registered.asset.item_json)["AssetID"]
    await at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=owner, amount=5000))
    console.print(f"Asset {asset_id} ({box.name}, {len(data):,} bytes) owned by {owner}; Wallet funded 5,000 ACU")
    bob = f"mmm://{B}/processes/user/bob"
    view = await at_a.instance.TransferAsset(
        apb.TransferAssetRequest(
            asset_id=asset_id, source_process_id=owner, destination_process_id=bob, payment_amount=1001
        )
    )
    states = [view.state]
    deadline = time.monotonic() + 30
    while not view.terminal and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        view = await at_a.instance.GetAssetTransfer(apb.GetAssetTransferRequest(transfer_id=view.transfer_id))
        if view.state != states[-1]:
            states.append(view.state)
    console.print(f"transfer {view.transfer_id}: {' -> '.join(states)} (Transaction {view.transaction_status})")
    console.print(exchange_line(view.exchange))
    if view.state == "COMPLETED":
        home = await at_b.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=view.destination_asset_id))
        console.print(
            f"owner of record now {home.asset.owner_process_id} at {B} ({view.destination_asset_id}); "
            f"{A} keeps it as MIGRATED with that pointer; Provenance closed by one signed Transaction"
        )
    else:
        console.print(f"[bold red]not completed[/]: {view.reason}: {view.message}", emoji=False)


def _kept(p: LoopbackPlan, console: Console) -> None:
    """Say where the configurations and PKI of each trust domain are, and how to serve them."""
    console.print(Rule(f"kept in {p.workdir}"))
    for name, path in p.config_paths().items():
        kind = p.nodes()[name].kind
        console.print(f"mmmfed serve {kind} --config {path}", markup=False, highlight=False)
    for domain, directory in p.pki.items():
        console.print(
            f"{domain}: CA {directory / 'ca.pem'} (its key ca.key stays here), operator "
            f"--cert {directory / 'operator.pem'} --key {directory / 'operator.key'}",
            markup=False,
            highlight=False,
        )


def _serving(p: LoopbackPlan, console: Console) -> None:
    """Tell the operator how to talk to each M-Instance of the live federation."""
    console.print(Rule("the federation keeps serving; Ctrl-C (or SIGTERM) stops every node"))
    paths = p.config_paths()
    for m, (instance, gateway) in {A: ("instance-a", "gateway-a"), B: ("instance-b", "gateway-b")}.items():
        op = p.operators[m]
        console.print(
            f"{m}: instance --config {paths[instance]}  gateway --config {paths[gateway]}\n"
            f"    --cert {op.cert} --key {op.key}",
            markup=False,
            highlight=False,
        )


def _keep_running(p: LoopbackPlan, procs: NodeProcesses, console: Console) -> int:
    """Serve until SIGINT or SIGTERM (0), or until a node dies (1, naming its log)."""
    _serving(p, console)
    try:
        while True:
            time.sleep(0.5)
            procs.check_alive()
    except KeyboardInterrupt:
        console.print("stopping the federation")
        return 0


def run_demo(out: Path, config_dir: Path | None = None, *, keep_running: bool = False) -> int:
    """Run the demo; returns the process exit code (0 on success, 2 if ``config_dir`` is not an
    empty or new directory, or it or ``out`` cannot be written: ``DATA_DIR_UNWRITABLE``). Stops
    every process it started, whatever happens; with ``keep_running``, only once SIGINT or SIGTERM
    arrives after the demo succeeded (exit 0).

    With ``config_dir``, what it made stays there: per trust domain ``<domain>/pki/`` (``ca.pem``,
    ``ca.key``, node certificates, ``operator.pem`` + ``operator.key``), ``<domain>/instance.json``
    and ``gateway.json`` (``bridge.example/bridge.json``), and the nodes' data."""
    console = Console(width=max(110, Console().width), emoji=False)
    if config_dir is not None and config_dir.exists() and (not config_dir.is_dir() or any(config_dir.iterdir())):
        Console(stderr=True).print(
            f"error CONFIG_DIR_NOT_EMPTY: --config-dir {config_dir} exists and is not an empty directory; "
            "choose a new one (the demo never overwrites a PKI)",
            markup=False,
            highlight=False,
        )
        return 2
    from mmmfed.errors import InvalidInput
    from mmmfed.preflight import check_data_dir

    try:  # before any node starts: one line, not a traceback half-way through the demo
        for where, field in ((config_dir, "--config-dir"), (out, "--out")):
            if where is not None:
                check_data_dir(where, field)
    except InvalidInput as err:
        Console(stderr=True).print(f"error {err.reason}: {err.message}", markup=False, highlight=False)
        return 2
    with contextlib.ExitStack() as stack:
        if config_dir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mmmfed-demo-")))
        else:
            config_dir.mkdir(parents=True, exist_ok=True)
            workdir = config_dir.resolve()
        p = plan(workdir)
        p.instance_b.manifesto.policies.update(B_CONTENT_POLICIES)  # b takes 3D models as .glb only
        procs = NodeProcesses(workdir)
        # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the finally below stops the nodes.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        console.print(Rule("mmmfed demo: a.example and b.example federate on loopback"))
        console.print(
            f"three trust domains, {A}, {B} and {BRIDGE}, each with its own CA; they exchange only their ca.pem bundles"
        )
        try:
            procs.start_plan(p, workdir)
            console.print("started " + ", ".join(f"{n} (pid {pr.pid})" for n, pr in procs.procs.items()))
            out.mkdir(parents=True, exist_ok=True)
            code = asyncio.run(_scenario(p, procs, out.resolve(), console))
            return _keep_running(p, procs, console) if keep_running and code == 0 else code
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            return 130
        except (MmmfedError, RuntimeError) as err:
            console.print(f"[bold red]demo failed:[/] {err}")
            for name, tail in procs.log_tails().items():
                console.print(f"[dim]--- {name}[/]\n{tail}")
            return 1
        finally:
            procs.stop()
            console.print(f"stopped {len(procs.procs)} node processes")
            if config_dir is not None:
                _kept(p, console)
    return 1
