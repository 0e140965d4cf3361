"""`mmmfed identity issue|present|verify|status-list|revoke` and `keys export --format jwks`
(FGMV-43 9.4 steps 1-3; IDIR-303/306): the real CLI in subprocesses, files only, no node running.
The independent @sd-jwt/sd-jwt-vc verifier reads the same files the CLI wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mmmfed.cli.loopback import A, plan
from mmmfed.identity.jose import public_jwk
from mmmfed.keyfile import load_signing_key

ROOT = Path(__file__).resolve().parents[2]
ALICE = f"mmm://{A}/processes/user/alice"
KIT = f"mmm://{A}/processes/user/kit"
NODE_SCRIPT = ROOT / "tests" / "interop" / "sd_jwt_vc_verify.mjs"


def mmmfed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("MMMFED_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


def ok(*args: str | Path) -> Any:
    done = mmmfed(*args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def refused(*args: str | Path) -> str:
    done = mmmfed(*args, "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return str(json.loads(done.stdout)["error"])


@dataclass(frozen=True)
class Home:
    config: Path
    work: Path
    keys: Path  # JWK Set
    did: Path  # DID document

    def status_list(self) -> Path:
        out = self.work / "status.jwt"
        ok("identity", "status-list", "--config", self.config, "--out", out)
        return out

    def present(self, who: str, disclose: str, audience: str, nonce: str, out: Path) -> Path:
        args = ["--disclose", disclose, "--audience", audience, "--nonce", nonce, "--out", out]
        ok("identity", "present", who, "--config", self.config, *args)
        return out

    def verify(self, presentation: Path, *extra: str, nonce: str = "n-1") -> list[str | Path]:
        keys = ["--keys", self.did, "--status-list", self.status_list()]
        return ["identity", "verify", presentation, *keys, "--audience", "b.example", "--nonce", nonce, *extra]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """a.example's gateway with one key; Alice (adult) and Kit (a child) issued credentials."""
    work = tmp_path_factory.mktemp("identity-cli")
    loopback = plan(work)
    loopback.ports.release()
    config = work / "gateway-a.json"
    config.write_text(loopback.gateway_a.model_dump_json())
    assert mmmfed("keys", "rotate", "--config", config).returncode == 0
    issued = ok("identity", "issue", ALICE, "--config", config, "--birthdate", "1990-05-17", "--name", "Alice")
    assert issued["did"] == f"did:web:{A}:users:alice" and "age_over_18" in issued["claims"]
    ok("identity", "issue", KIT, "--config", config, "--birthdate", "2019-01-01", "--name", "Kit")
    keys, did = work / "jwks.json", work / "did.json"
    ok("keys", "export", "--config", config, "--out", keys, "--format", "jwks")
    ok("keys", "export", "--config", config, "--out", did)
    return Home(config, work, keys, did)


def test_fgmv43_9_4_cli_presentation_discloses_only_the_chosen_claims(home: Home) -> None:
    shown = home.present(ALICE, "name,age_over_18", "b.example", "n-1", home.work / "alice.sd-jwt")
    verified = ok(*home.verify(shown, "--min-age", "18"))
    assert verified["disclosed"] == {"name": "Alice", "age_over_18": True}
    assert verified["subject"] == f"did:web:{A}:users:alice"
    assert "1990" not in shown.read_text()


def test_idir303_cli_refuses_a_child_naming_the_rule(home: Home) -> None:
    shown = home.present(KIT, "age_over_18", "b.example", "n-1", home.work / "kit.sd-jwt")
    assert refused(*home.verify(shown, "--min-age", "18")) == "ELIGIBILITY_AGE"


def test_idir306_cli_refuses_wrong_audience_wrong_nonce_and_unknown_claims(home: Home) -> None:
    shown = home.present(ALICE, "name", "c.example", "n-2", home.work / "alice-c.sd-jwt")
    assert refused(*home.verify(shown, nonce="n-2")) == "AUDIENCE_MISMATCH"
    shown = home.present(ALICE, "name", "b.example", "n-3", home.work / "alice-n3.sd-jwt")
    assert refused(*home.verify(shown, nonce="n-4")) == "NONCE_MISMATCH"
    args = ["--disclose", "shoe_size", "--audience", "b.example", "--nonce", "n", "--out", home.work / "x"]
    assert refused("identity", "present", ALICE, "--config", home.config, *args) == "DISCLOSE_UNKNOWN_CLAIM"
    assert not (home.work / "x").exists()


@pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@sd-jwt" / "sd-jwt-vc" / "package.json").is_file(),
    reason="needs node and @sd-jwt/sd-jwt-vc in node_modules: run `make setup`",
)
def test_fgmv43_9_4_npm_verifier_reads_the_files_the_cli_wrote(home: Home) -> None:
    shown = home.present(ALICE, "name,age_over_18", "b.example", "n-9", home.work / "alice-npm.sd-jwt")
    request = {
        "presentation": str(shown),
        "jwks": str(home.keys),
        "status_list": str(home.status_list()),
        "nonce": "n-9",
        "audience": "b.example",  # no now_s: the CLI signed with the wall clock, Node checks with it too
        "required": ["name", "age_over_18"],
    }
    done = subprocess.run(
        ["node", str(NODE_SCRIPT)], input=json.dumps(request), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    answer = json.loads(done.stdout)
    assert answer["ok"], answer
    assert (answer["claims"]["name"], answer["claims"]["age_over_18"], answer["status"]) == ("Alice", True, 0)
    assert "birthdate" not in answer["claims"]


def test_idir306_cli_revocation_reaches_the_destination_through_the_status_list(home: Home) -> None:
    """Bob's own credential, so the other tests (Alice's) do not depend on the order they run in."""
    bob = f"mmm://{A}/processes/user/bob"
    ok("identity", "issue", bob, "--config", home.config, "--birthdate", "1980-02-29", "--name", "Bob")
    shown = home.present(bob, "name", "b.example", "n-5", home.work / "bob.sd-jwt")
    assert ok(*home.verify(shown, nonce="n-5"))["disclosed"] == {"name": "Bob"}
    assert ok("identity", "revoke", bob, "--config", home.config)["revoked_idx"] == 2
    assert refused(*home.verify(shown, nonce="n-5")) == "CREDENTIAL_REVOKED"


def test_idir202_cli_show_lists_the_users_claims_key_and_status(home: Home) -> None:
    shown = ok("identity", "show", ALICE, "--config", home.config)
    assert shown["did"] == f"did:web:{A}:users:alice"
    assert shown["did_document_url"] == f"https://{A}/users/alice/did.json"
    assert (shown["key"], shown["status"]) == ("held", "valid")
    assert shown["claims"]["birthdate"] == "1990-05-17" and shown["claims"]["age_over_21"] is True


def test_idir202_cli_user_brings_their_own_key(home: Home) -> None:
    """Carol's key is made outside (keys generate); the home gets only its public JWK, and the
    presentation is signed with the private key file the user passes."""
    carol = f"mmm://{A}/processes/user/carol"
    private = home.work / "carol.pem"
    assert mmmfed("keys", "generate", "--out", private).returncode == 0
    jwk_file = home.work / "carol.jwk.json"
    jwk_file.write_text(json.dumps(public_jwk(load_signing_key(private).public_key_bytes)))
    ok("identity", "issue", carol, "--config", home.config, "--birthdate", "2000-01-01", "--holder-jwk", jwk_file)
    assert ok("identity", "show", carol, "--config", home.config)["key"] == "own"
    args = ["--disclose", "age_over_21", "--audience", "b.example", "--nonce", "n-7", "--out", home.work / "carol"]
    assert refused("identity", "present", carol, "--config", home.config, *args) == "USER_KEY_NOT_HELD"
    ok("identity", "present", carol, "--config", home.config, *args, "--key", private)
    assert ok(*home.verify(home.work / "carol", nonce="n-7"))["disclosed"] == {"age_over_21": True}
    other = home.work / "other.pem"
    assert mmmfed("keys", "generate", "--out", other).returncode == 0
    assert (
        refused("identity", "present", carol, "--config", home.config, *args, "--key", other) == "HOLDER_KEY_MISMATCH"
    )
