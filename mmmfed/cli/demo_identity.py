"""The demo's identity step (FGMV-43 9.4 steps 1-4, IDIR-204/303; issue 17 item 7): a.example
issues two of its users an identity credential (SD-JWT VC); one, an adult, migrates her identity
to b.example disclosing only ``name`` and ``age_over_18``; the second, aged 16, is refused by
b.example's manifesto rule ``identity.min_age`` = 18 (``ELIGIBILITY_AGE``); the first changes her
display name at home, which `identity sync` pushes to b.example (IDSF), then unlinks and a.example
keeps b.example's signed receipt of deletion.

The credentials are issued as ``mmmfed identity issue`` issues them, from a.example's gateway
data dir (its current key, its identity store), while the gateway runs in its own process;
migrate and unlink go to that gateway over RI-4 with a.example's operator certificate, and it
talks to b.example's gateway over RE-4.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import identity_pb2_grpc
from mmmfed.cli.loopback import A, B, LoopbackPlan
from mmmfed.config import PeerAddress
from mmmfed.errors import MmmfedError
from mmmfed.identity.claims import IdentityProfile
from mmmfed.identity.credential import Issuer, issue_credential
from mmmfed.identity.receipts import read_receipt
from mmmfed.identity.store import IdentityStore
from mmmfed.identity.user_did import user_did_of_process
from mmmfed.keys import InstanceKeyStore
from mmmfed.rpc import call
from mmmfed.tls import secure_channel

DISCLOSED = ("name", "age_over_18")


def _born(years: int, *, today: dt.date) -> dt.date:
    """A birthdate ``years`` years and a day before ``today``."""
    try:
        return today.replace(year=today.year - years) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28) - dt.timedelta(days=1)


def issue(data_dir: Path, process_id: str, *, name: str, birthdate: dt.date) -> str:
    """Issue ``process_id`` (a User Process of a.example) a credential from the gateway data dir
    ``data_dir``, as ``mmmfed identity issue`` does; returns the user's DID."""
    did = user_did_of_process(process_id)
    user_id = did.rsplit(":", 1)[-1]
    record, key = InstanceKeyStore(data_dir / "keys", A).current()
    store = IdentityStore(data_dir / "identity", A)
    now_s = int(time.time())
    holder = store.user_key(user_id, did=did, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s)))
    credential = issue_credential(
        IdentityProfile(name=name, birthdate=birthdate, languages=("en",)),
        issuer=Issuer(A, record, key),
        subject_did=did,
        holder=holder,
        status=store.allocate(),
        issued_at_s=now_s,
    )
    store.save_credential(user_id, credential)
    return did


async def identity_step(p: LoopbackPlan, adult: str, minor: str, console: Console) -> bool:
    """Run the step for the User Processes ``adult`` and ``minor`` of a.example and print what
    happens; True when the adult was linked, the minor refused ELIGIBILITY_AGE, the new name
    synchronised and the unlink answered a receipt."""
    today = dt.datetime.now(dt.UTC).date()
    issue(p.gateway_a.data_dir, adult, name=adult.rsplit("/", 1)[-1].capitalize(), birthdate=_born(30, today=today))
    issue(p.gateway_a.data_dir, minor, name=minor.rsplit("/", 1)[-1].capitalize(), birthdate=_born(16, today=today))
    console.print(f"{A} issued SD-JWT VC identity credentials to {adult} (aged 30) and {minor} (aged 16)", markup=False)
    gateway = PeerAddress(tls_name=p.gateway_a.tls_name, address=p.gateway_a.listen)
    ok = True
    async with secure_channel(p.operators[A], gateway) as channel:
        home = identity_pb2_grpc.IdentityGatewayStub(channel)

        def migrate(process_id: str) -> ipb.MigrateIdentityRequest:
            return ipb.MigrateIdentityRequest(process_id=process_id, peer_m_instance_id=B, disclose=list(DISCLOSED))

        linked: ipb.MigrateIdentityResponse = await call(lambda: home.MigrateIdentity(migrate(adult)), attempts=1)
        console.print(
            f"{linked.did} -> {B}: LINKED as {linked.peer_process_id}; {B} stores only "
            f"{', '.join(linked.stored_claims)} (disclosed: {', '.join(DISCLOSED)}); a User Process of {B}, "
            f"admitted {linked.admission or '?'} (Account type {linked.account_type or '?'})",
            markup=False,
        )
        try:
            await call(lambda: home.MigrateIdentity(migrate(minor)), attempts=1)
            console.print(f"[bold red]{escape(minor)} was admitted; {B} requires age 18[/]")
            ok = False
        except MmmfedError as err:
            rule = err.metadata.get("rule", "-")
            console.print(f"{minor} -> {B}: REFUSED {err.reason} (rule {rule}): {err.message}", markup=False)
            ok = ok and err.reason == "ELIGIBILITY_AGE"
        # IDSF (9.4 steps 5-7): a new display name at home reaches b.example, within the scope
        renamed = f"{adult.rsplit('/', 1)[-1].capitalize()} L."
        issue(p.gateway_a.data_dir, adult, name=renamed, birthdate=_born(30, today=today))
        sync = ipb.SyncIdentityRequest(process_id=adult)
        synced: ipb.SyncIdentityResponse = await call(lambda: home.SyncIdentity(sync), attempts=1)
        for peer in synced.peers:
            console.print(
                f"{linked.did}: new display name {renamed!r} pushed to {peer.peer_m_instance_id}: {peer.outcome} "
                f"at version {peer.version}, holding {', '.join(peer.claims) or peer.reason}",
                markup=False,
            )
        ok = ok and [peer.outcome for peer in synced.peers] == ["SYNCED"]
        request = ipb.UnlinkIdentityRequest(process_id=adult, peer_m_instance_id=B)
        done: ipb.UnlinkIdentityResponse = await call(lambda: home.UnlinkIdentity(request), attempts=1)
        header, payload = read_receipt(done.receipt_jws)
        console.print(
            f"{linked.did} unlinked from {B}: it deleted {', '.join(done.deleted_claims)}; receipt of deletion "
            f"signed by {header.get('kid')} (jti {payload.get('jti')}), verified and kept at {done.receipt_path}",
            markup=False,
        )
    return ok
