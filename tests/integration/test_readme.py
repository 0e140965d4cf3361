"""The README's examples run as written (issue 13 item 6).

Every ``mmmfed`` command of README.md's ```sh blocks (tests/integration/readme_commands.py
finds them) is run, as its own process, against real files and a live loopback federation:
a.example, b.example, their gateways and the bridge, started once for the module in a thread
of this process, their configurations written where ``mmmfed demo --config-dir fed`` puts them
(``fed/<domain>/instance.json``, ``gateway.json``, ``pki/operator.pem`` ...). Each README
section's commands run in order in a directory of their own that holds the files the README
names: ``instance.json``, ``gateway.json`` and ``bridge.json`` (copies of a.example's and the
bridge's configurations; the gateway's and bridge's without peers, which the section's ``peer
add`` lines add), ``OP.pem`` + ``OP.key`` (a.example's operator), ``b-ca.pem``, ``a-ca.pem``,
``bridge-ca.pem`` (the trust domains' bundles), ``box.glb`` and ``avatar.vrm`` (samples),
``pass`` and ``ca-pass`` (passphrases), and each file the section writes with a here-document.
Placeholders (ASSET_ID, NEW_ASSET_ID, TRANSFER_ID, KEY_ID, PEER, ``${DID%%#*}``) are replaced by
values the federation or an earlier command gave.

:data:`CASES` says, for each README command, the exit code the README implies and something
its output must show; :data:`COVERED_ELSEWHERE` names the few commands another test runs (the
ones that serve until stopped). A README command in neither, or an entry the README no longer
shows, fails :func:`test_every_readme_command_is_exercised`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from readme_commands import (
    CommandRunner,
    ReadmeCommand,
    Result,
    readme_commands,
    readme_files,
    readme_other_lines,
)
from sample_assets import BOX, GODETTE, needs_samples

from gateway.keyring import MIN_REFRESH_S
from mmmfed.cli.inprocess import Federation, start_federation
from mmmfed.cli.loopback import BRIDGE, A, B, samples_dir

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Commands that serve until stopped, run by the tests named (each starts the node this way).
COVERED_ELSEWHERE = {
    "mmmfed serve instance --config instance.json": "tests/integration/test_cli.py (demo: NodeProcesses)",
    "mmmfed serve gateway --config gateway.json": "tests/integration/test_cli.py (demo: NodeProcesses)",
    "mmmfed serve bridge --config bridge.json": "tests/integration/test_cli.py (demo: NodeProcesses)",
    "mmmfed serve instance --config instance.json '&'": "tests/integration/test_cli.py (demo: NodeProcesses)",
    "mmmfed serve gateway --config gateway.json '&'": "tests/integration/test_cli.py (demo: NodeProcesses)",
    "mmmfed demo --config-dir fed --keep-running": (
        "tests/integration/test_cli.py::test_demo_keep_running_serves_until_sigterm_then_stops_every_node"
    ),
}

# Shell lines that run something else than mmmfed, by their first words, and what covers them.
OTHER_LINES = {
    "make demo": "tests/integration/test_cli.py::test_demo_migrates_godette_refuses_sphere_and_stops_every_process",
    "make test": "the whole suite, this module included",
    "helm install": "tests/helm/test_chart_*.py (lint and render the chart, check every manifest)",
    # No cluster here: test_readme_commands_run_as_written checks that the files these lines read
    # were made by the README's mmmfed lines before them.
    "kubectl create secret": "test_readme_commands_run_as_written (the files it reads exist)",
    "kubectl get configmap": "test_readme_commands_run_as_written (_gw_json writes what its jq makes)",
}


@dataclass
class Live:
    """The module's federation, its working root, the runner, and values commands gave."""

    fed: Federation
    root: Path
    runner: CommandRunner
    values: dict[str, str] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return Path(self.fed.plan.workdir)

    def mmmfed(self, *argv: str, cwd: Path | None = None) -> Result:
        """A support step (not a README command), e.g. to set a precondition."""
        return self.runner.run(list(argv), cwd=cwd or self.root)


@dataclass(frozen=True)
class Case:
    """What one README command must do: exit ``code`` with ``expect`` (a regex) in its stdout or
    stderr. ``cwd`` (relative to the module's root) overrides the section's directory; ``before``
    sets a precondition; ``check`` asserts more of the output; ``after`` keeps values of the output
    for later placeholders."""

    expect: str
    code: int = 0
    cwd: str | None = None
    before: Callable[[Live], None] | None = None
    after: Callable[[Live, Result], None] | None = None
    check: Callable[[Live, Result], None] | None = None


def _keep(name: str, pattern: str) -> Callable[[Live, Result], None]:
    def keep(live: Live, result: Result) -> None:
        found = re.search(pattern, result.stdout + result.stderr)
        assert found, f"no {name} ({pattern}) in\n{result}"
        live.values[name] = found.group(1)

    return keep


def _retired_key(live: Live) -> None:
    """Rotate a.example's keys (a support step) so that KEY_ID is the key just retired."""
    listed = live.mmmfed("keys", "list", "--config", str(live.workdir / A / "gateway.json"), "--json")
    assert listed.returncode == 0, listed
    before = {k["key_id"] for k in json.loads(listed.stdout)["keys"] if k.get("status") == "current"}
    rotated = live.mmmfed("keys", "rotate", "--config", str(live.workdir / A / "gateway.json"))
    assert rotated.returncode == 0, rotated
    live.values["KEY_ID"] = before.pop()


def _peer_can_learn_new_keys(live: Live) -> None:
    """Wait out b.example's keyring refresh limit: the keys rotated just before were made after
    b.example last fetched a.example's key set, and an unknown key id refetches it at most every
    MIN_REFRESH_S seconds (an operator typing the next command waits longer than that)."""
    time.sleep(MIN_REFRESH_S + 0.5)


def _agreement_in_force(live: Live) -> None:
    """a.example and b.example have an agreement in force (an earlier command revoked it)."""
    op = live.workdir / A / "pki"
    proposed = live.mmmfed(
        "agreement",
        "propose",
        B,
        "--config",
        str(live.workdir / A / "gateway.json"),
        "--cert",
        str(op / "operator.pem"),
        "--key",
        str(op / "operator.key"),
    )
    assert proposed.returncode == 0, proposed


def _gw_json(live: Live) -> None:
    """What the README's kubectl + jq line makes: the gateway's configuration with data_dir gw."""
    directory = _section_dir(live, "Deploying on Kubernetes")
    gateway = json.loads((directory / "gateway.json").read_text())
    (directory / "gw.json").write_text(json.dumps({**gateway, "data_dir": "gw"}, indent=2))


def _ledger(live: Live, result: Result) -> None:
    ledger = json.loads(result.stdout)
    assert ledger["m_instance_id"] == A
    assert live.values["ASSET_ID"] in json.dumps(ledger)


def _discovered(live: Live, result: Result) -> None:
    """Discover At the MM-Square answers Ack and names the Persona placed there."""
    answer = json.loads(result.stdout)
    assert "Ack" in json.dumps(answer) and PERSONA1 in json.dumps(answer), answer


def _signed(live: Live, result: Result) -> None:
    signed = json.loads(result.stdout)
    assert signed["proof"]["cryptosuite"] == "eddsa-jcs-2022" and signed["ItemID"] == "mmm://a.example/items/box-1"


OP = "--config instance.json --cert OP.pem --key OP.key"
FED_OP = (
    "--config fed/a.example/instance.json --cert fed/a.example/pki/operator.pem --key fed/a.example/pki/operator.key"
)
ALICE, BOB = (f"mmm://{m}/processes/user/{u}" for m, u in ((A, "alice"), (B, "bob")))
USER1, PERSONA1 = f"mmm://{A}/processes/user1", f"mmm://{A}/personae/user1"
GODETTE_PATH = "../shared/samples/vrm/godot-vrm_Godette/Godette_vrm_v4.vrm"
POSE_PATH = "../shared/samples/vrm/VRM-Addon-for-Blender_tests/pose_rotation_scale_shape_key_skinned.vrm"
CASES: dict[str, Case] = {
    # The reference M-Instance: Processes acting on Items under Rights and Rules
    "mmmfed scenario phase0": Case(r"(\d+) of \1 steps answered as the use case expects"),
    "mmmfed scenario phase0 --federated": Case(r"(\d+) of \1 steps answered as the use case expects"),
    f"mmmfed pa send {OP} --file register.json": Case(r"PA Status\W+Ack"),
    f"mmmfed pa send {OP} --source {USER1} --destination {USER1} --action MM-Add --nil {PERSONA1}"
    " --at mmm://a.example/locations/mm-square": Case(r"PA Status\W+Ack"),
    f"mmmfed pa send {OP} --file request.json --json": Case(r"Ack", check=_discovered),
    f"mmmfed activity show {OP} --process {USER1}": Case(r"MM-Add"),
    # Asset migration
    f"mmmfed avatar register {OP} --human alice --file {POSE_PATH}": Case(re.escape(ALICE)),
    f"mmmfed asset register {OP} --owner {ALICE} --file box.glb": Case(
        r"owned by mmm://a\.example/processes/user/alice",
        after=_keep("ASSET_ID", r"(?m)^(mmm://a\.example/assets/\S+)"),
    ),
    f"mmmfed asset fund {OP} --holder {ALICE} --amount 5000": Case(r"5,?000"),
    "mmmfed agreement propose b.example --config gateway.json --cert OP.pem --key OP.key": Case(
        r"ACTIVE \S+ with b\.example"
    ),
    f"mmmfed asset transfer ASSET_ID {OP} --from {ALICE} --to {BOB} --pay 1001": Case(
        r"COMPLETED", after=_keep("TRANSFER_ID", r"transfer (urn:uuid:[0-9a-f-]+)")
    ),
    f"mmmfed asset status TRANSFER_ID {OP}": Case(r"COMPLETED"),
    f"mmmfed asset cancel TRANSFER_ID {OP}": Case(r"TRANSFER_DECIDED", code=2),
    f"mmmfed asset history ASSET_ID {OP}": Case(
        r"MIGRATED", after=_keep("NEW_ASSET_ID", r"(mmm://b\.example/assets/[0-9a-f-]+)")
    ),
    f"mmmfed asset history NEW_ASSET_ID {OP} --peer b.example": Case(re.escape(BOB)),
    f"mmmfed asset ledger {OP} --json": Case(r"m_instance_id", check=_ledger),
    # Operator guide
    "mmmfed certs init ./pki --m-instance x.example": Case(r"trust domain x\.example: wrote pki/ca\.pem"),
    "mmmfed certs init ./pki-enc --m-instance x.example --passphrase-file pass --node gateway.x.example=gateway"
    " --node ops.x.example=operator": Case(r"trust domain x\.example: wrote pki-enc/ca\.pem"),
    "mmmfed certs issue ./pki --name alice.ops.x.example --role operator": Case(
        r"wrote pki/alice\.ops\.x\.example\.pem"
    ),
    "mmmfed certs csr --name gateway.x.example --role gateway --key-out gw.key --out gw.csr": Case(r"wrote gw\.key"),
    "mmmfed certs sign ./pki gw.csr --out gw.pem": Case(r"wrote gw\.pem \(x\.example"),
    "mmmfed certs renew ./pki gw.pem --days 90": Case(r"wrote gw\.pem \(90 days\)"),
    "mmmfed certs show ./pki/ca.pem": Case(r"CA of x\.example[\s\S]*sha256\s+[0-9a-f]{64}"),
    "mmmfed peer add b.example --config gateway.json --endpoint gw.b.example:7443 --bundle b-ca.pem": Case(
        r"peers\.b\.example trusted by b-ca\.pem"
    ),
    "mmmfed peer list --config gateway.json": Case(r"b\.example\s+gw\.b\.example:7443"),
    "mmmfed config check gateway.json": Case(r"a valid gateway configuration of trust domain a\.example"),
    "mmmfed convert avatar.vrm --max-triangles 1500 --texture-format jpeg --max-texture-px 512 --out avatar.glb": Case(
        r"0 errors[\s\S]*wrote avatar\.glb"
    ),
    "mmmfed keys list --config gateway.json": Case(r"did:web:a\.example#\S+\s.*current"),
    "mmmfed keys rotate --config gateway.json": Case(r"new current key"),
    "mmmfed keys revoke KEY_ID --config gateway.json": Case(r"revoked \S+ .* as compromised", before=_retired_key),
    "mmmfed keys revoke KEY_ID --reason superseded --config gateway.json": Case(
        r"revoked \S+ .* as superseded", before=_retired_key
    ),
    "mmmfed agreement accept PEER --config gateway.json": Case(r"now accepts trust agreements proposed by b\.example"),
    "mmmfed agreement propose PEER --config gateway.json --cert OP.pem --key OP.key": Case(
        r"ACTIVE \S+ with b\.example", before=_peer_can_learn_new_keys
    ),
    "mmmfed agreement revoke PEER --config gateway.json --cert OP.pem --key OP.key": Case(
        r"REVOKED \S+ with b\.example"
    ),
    "mmmfed agreement withdraw PEER --config gateway.json": Case(
        r"no longer accepts trust agreements proposed by b\.example"
    ),
    "mmmfed agreement consents --config gateway.json": Case(r"b\.example\s+withdrawn\s+operator"),
    "mmmfed agreement show --config gateway.json": Case(r"b\.example\s.*REVOKED"),
    "mmmfed --version": Case(r"^mmmfed \d+\.\d+"),
    "mmmfed status --config instance.json --cert OP.pem --key OP.key": Case(
        r"every node up[\s\S]*audit head\s+seq [1-9]\d*[\s\S]*b\.example\s+REVOKED"
    ),
    "mmmfed audit show --config gateway.json": Case(r"AGREEMENT"),
    "mmmfed audit verify --config gateway.json": Case(r"VERIFIED \d+ entries"),
    "mmmfed audit checkpoint --config gateway.json --out cp.json": Case(r"CHECKPOINT of a\.example: \d+ entries"),
    # The peer's checkpoint is fetched over a.example's gateway's own configuration (the peer's real
    # address), under the agreement the guide's `agreement revoke` ended.
    "mmmfed audit checkpoint --config gateway.json --peer PEER --out peer-cp.json": Case(
        r"CHECKPOINT of b\.example", cwd="fed/a.example", before=_agreement_in_force
    ),
    "mmmfed audit verify --config gateway.json --checkpoint cp.json": Case(r"HOLDS the checkpoint"),
    "mmmfed keys generate --out signer.pem": Case(r"did:key:z6Mk"),
    "mmmfed item sign --key signer.pem item.json '>' signed.json": Case(r"eddsa-jcs-2022", check=_signed),
    "mmmfed item verify signed.json": Case(r"VERIFIED signed\.json: 1 of 1 proofs, by did:key:z6Mk"),
    "mmmfed keys export --config gateway.json --out did.json": Case(
        r"wrote did\.json: did:web:a\.example with \d+ key"
    ),
    "mmmfed item verify signed.json --keys did.json --json": Case(r'"verified": true'),
    # A live local federation, by hand (the module's federation is where the demo's would be; the
    # demo leaves an agreement in force, which the Operator guide's `agreement revoke` ended here)
    f"mmmfed avatar register {FED_OP} --file {GODETTE_PATH} --human gd": Case(
        r"mmm://a\.example/processes/user/gd", cwd="."
    ),
    f"mmmfed avatar migrate mmm://a.example/processes/user/gd --to b.example {FED_OP}": Case(
        r"MIGRATED|migrated", cwd=".", before=_agreement_in_force
    ),
    f"mmmfed avatar status mmm://a.example/processes/user/gd {FED_OP}": Case(r"b\.example\W+MIGRATED", cwd="."),
    f"mmmfed avatar list {FED_OP}": Case(r"b\.example MIGRATED", cwd="."),
    f"mmmfed avatar history mmm://a.example/processes/user/gd {FED_OP}": Case(r"version 1 now", cwd="."),
    f"mmmfed status {FED_OP}": Case(r"every node up[\s\S]*b\.example\s+ACTIVE", cwd="."),
    # Two operators, two machines
    "mmmfed certs init pki --m-instance a.example --passphrase-file ca-pass": Case(r"trust domain a\.example: wrote"),
    "mmmfed certs show pki/ca.pem": Case(r"CA of a\.example[\s\S]*sha256\s+[0-9a-f]{64}"),
    "mmmfed peer add bridge.example --bridge --config gateway.json --endpoint bridge.example:7444"
    " --bundle bridge-ca.pem": Case(r"bridges\.bridge\.example trusted by bridge-ca\.pem"),
    "mmmfed peer add a.example --config bridge.json --bundle a-ca.pem": Case(r"a\.example trusted by a-ca\.pem"),
    "mmmfed agreement accept b.example --config gateway.json": Case(
        r"now accepts trust agreements proposed by b\.example"
    ),
    # Alice's own nodes serve with the federation's PKI: her operator's pki/ is fed/a.example/pki.
    "mmmfed agreement propose b.example --config gateway.json --cert pki/operator.pem --key pki/operator.key": Case(
        r"ACTIVE \S+ with b\.example", cwd="fed/a.example"
    ),
    # Deploying on Kubernetes
    "mmmfed certs init ./pki --m-instance a.example --node gateway.a.example=gateway"
    " --node instance.a.example=instance --node ops.a.example=operator": Case(r"trust domain a\.example: wrote"),
    "mmmfed keys generate --out bridge-signer.pem": Case(r"did:key:z6Mk", after=_keep("DID", r"(?m)^(did:key:\S+)")),
    "mmmfed certs issue ./pki --name bridge.example --role bridge --uri '${DID%%#*}'": Case(
        r"wrote pki/bridge\.example\.pem"
    ),
    "mmmfed keys rotate --config gw.json": Case(r"new current key", before=_gw_json),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The federation, serving from a thread of its own for every test of the module."""
    root = tmp_path_factory.mktemp("readme")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="readme-federation", daemon=True)
    thread.start()
    fed = asyncio.run_coroutine_threadsafe(start_federation(root / "fed"), loop).result(timeout=120)
    try:
        for name, path in fed.plan.config_paths().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fed.plan.nodes()[name].model_dump_json(indent=2))
        yield Live(fed=fed, root=root, runner=CommandRunner(root))
    finally:
        asyncio.run_coroutine_threadsafe(fed.stop(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _section_dir(live: Live, section: str) -> Path:
    """The section's directory with the files its commands name (see the module docstring)."""
    slug = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")
    directory = live.root / slug
    if directory.exists():
        return directory
    directory.mkdir()
    fed = live.workdir
    a_instance = json.loads((fed / A / "instance.json").read_text())
    a_gateway = json.loads((fed / A / "gateway.json").read_text())
    bridge = json.loads((fed / BRIDGE / "bridge.json").read_text())
    (directory / "instance.json").write_text(json.dumps(a_instance, indent=2))
    (directory / "gateway.json").write_text(json.dumps({**a_gateway, "peers": {}, "bridges": {}}, indent=2))
    (directory / "bridge.json").write_text(json.dumps({**bridge, "gateways": {}}, indent=2))
    for stem in ("pem", "key"):
        shutil.copy(fed / A / "pki" / f"operator.{stem}", directory / f"OP.{stem}")
    for domain, name in ((A, "a-ca.pem"), (B, "b-ca.pem"), (BRIDGE, "bridge-ca.pem")):
        shutil.copy(fed / domain / "pki" / "ca.pem", directory / name)
    shutil.copy(BOX, directory / "box.glb")
    shutil.copy(GODETTE, directory / "avatar.vrm")
    for name in ("pass", "ca-pass"):
        (directory / name).write_text("a passphrase of the README's examples\n")
    for readme_file in readme_files(README):
        if readme_file.section == section:
            (directory / readme_file.name).write_text(readme_file.content)
    return directory


def _argv(live: Live, words: list[str]) -> list[str]:
    """README words with placeholders replaced (KeyError if no earlier command gave one)."""
    samples = "../shared/samples/"
    out = []
    for word in words:
        if word in {"ASSET_ID", "NEW_ASSET_ID", "TRANSFER_ID", "KEY_ID"}:
            word = live.values[word]
        elif word == "PEER":
            word = B
        elif word == "${DID%%#*}":
            word = live.values["DID"].split("#", 1)[0]
        elif word.startswith(samples):
            word = str(samples_dir() / word.removeprefix(samples))
        out.append(word)
    return out


def _run(live: Live, command: ReadmeCommand, case: Case) -> Result:
    import shlex

    words = shlex.split(command.text)[1:]
    stdout_to = None
    if len(words) >= 2 and words[-2] == ">":
        stdout_to, words = words[-1], words[:-2]
    cwd = live.root / case.cwd if case.cwd else _section_dir(live, command.section)
    if case.before is not None:
        case.before(live)
    result = live.runner.run(_argv(live, words), cwd=cwd)
    if stdout_to is not None:
        (cwd / stdout_to).write_text(result.stdout)
    return result


def test_every_readme_command_is_exercised() -> None:
    """Each README command has a case here or names the test that runs it, and no case is stale."""
    shown = {command.text for command in readme_commands(README)}
    missing = sorted(shown - CASES.keys() - COVERED_ELSEWHERE.keys())
    stale = sorted((CASES.keys() | COVERED_ELSEWHERE.keys()) - shown)
    assert not missing, "README commands no test runs (add a case to CASES):\n" + "\n".join(missing)
    assert not stale, "cases for commands the README no longer shows:\n" + "\n".join(stale)
    assert not CASES.keys() & COVERED_ELSEWHERE.keys()
    unknown = [f"README line {n}: {line}" for n, line in readme_other_lines(README) if not _other_covered(line)]
    assert not unknown, "README shell lines no test covers (add them to OTHER_LINES):\n" + "\n".join(unknown)


def _other_covered(line: str) -> bool:
    return any(line == prefix or line.startswith(prefix + " ") for prefix in OTHER_LINES)


def test_readme_commands_are_found_as_a_shell_reads_them(tmp_path: Path) -> None:
    """Continuations, comments, $VAR of the block, a|b subcommands, [--optional] parts, redirects
    and here-documents are read as the README means them."""
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Top\n\n## Guide\n\n```sh\n"
        'OP="--config i.json --cert OP.pem --key OP.key"   # who\n'
        "# a comment, not a heading\n"
        ".venv/bin/mmmfed audit show|verify --config g.json   # both\n"
        ".venv/bin/mmmfed asset history X $OP \\\n    [--peer b.example]\n"
        'cat > f.json <<\'EOF\'\n{"a": "it\'s"}\nEOF\n'
        "DID=$(.venv/bin/mmmfed keys generate --out k.pem)\n"
        ".venv/bin/mmmfed item sign --key k.pem f.json > s.json\n"
        "make demo\n```\n"
    )
    shown = [(c.section, c.line, c.text) for c in readme_commands(readme)]
    assert shown == [
        ("Guide", 8, "mmmfed audit show --config g.json"),
        ("Guide", 8, "mmmfed audit verify --config g.json"),
        ("Guide", 9, "mmmfed asset history X --config i.json --cert OP.pem --key OP.key"),
        ("Guide", 9, "mmmfed asset history X --config i.json --cert OP.pem --key OP.key --peer b.example"),
        ("Guide", 14, "mmmfed keys generate --out k.pem"),
        ("Guide", 15, "mmmfed item sign --key k.pem f.json '>' s.json"),
    ]
    files = readme_files(readme)
    assert [(f.name, f.content, f.line) for f in files] == [("f.json", '{"a": "it\'s"}\n', 11)]
    assert readme_other_lines(readme) == [(16, "make demo")]


@needs_samples
def test_readme_commands_run_as_written(live: Live) -> None:
    """Every README command with a case, in README order, exits as the README says with what the
    case expects in its output."""
    failures: list[str] = []
    for command in readme_commands(README):
        case = CASES.get(command.text)
        if case is None:
            continue
        try:
            result = _run(live, command, case)
        except (KeyError, AssertionError, TimeoutError) as err:
            failures.append(f"README line {command.line}: {command.text}\n  could not run: {err!r}")
            continue
        output = result.stdout + result.stderr
        if result.returncode != case.code or not re.search(case.expect, output):
            failures.append(f"README line {command.line}: expected exit {case.code} and /{case.expect}/\n{result}")
            continue
        if "Traceback" in output:
            failures.append(f"README line {command.line}: a traceback\n{result}")
        for step in (case.check, case.after):
            if step is not None:
                try:
                    step(live, result)
                except (AssertionError, KeyError, ValueError) as err:
                    failures.append(f"README line {command.line}: {err!r}\n{result}")
    kubernetes = _section_dir(live, "Deploying on Kubernetes")
    for line_no, line in readme_other_lines(README):
        for path in re.findall(r"--(?:from-file=(?:[\w.-]+=)?|cert=|key=)(\S+)", line):
            if not (kubernetes / path).exists():
                failures.append(f"README line {line_no}: {line}\n  reads {path}, which no README command made")
    assert not failures, "\n\n".join(failures)
