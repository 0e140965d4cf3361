"""`mmmfed reputation issue|show` and the reputation claim through `identity issue|present|verify`
(IDIR-301/304/305; FGMV-43 9.4 step 3): the real CLI in subprocesses, files only, no node running."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_identity import ALICE, Home, mmmfed, ok, refused
from test_cli_identity import home as home  # the module fixture: a.example with Alice and Kit

from mmmfed.cli.loopback import A


def test_idir304_home_reputation_is_kept_carried_disclosed_and_ruled(home: Home) -> None:
    issued = ok(
        "reputation", "issue", ALICE, "--config", home.config, "--from", "2026-01-01", "--to", "2026-11-30",
        "--sanction", "mute=1", "--report", "harassment=3", "--standing", "warned",
    )  # fmt: skip
    assert issued["kept"] and issued["credential"]["sanctions"] == {"mute": 1}
    shown = ok("reputation", "show", ALICE, "--config", home.config)
    assert (shown["standing"], shown["signature"], shown["reports"]) == ("warned", "verified", {"harassment": 3})
    # The next identity credential carries it as a disclosable claim.
    again = ok("identity", "issue", ALICE, "--config", home.config, "--birthdate", "1990-05-17", "--name", "Alice")
    assert "reputation" in again["claims"]
    with_rep = home.present(ALICE, "name,reputation", "b.example", "n-1", home.work / "alice-rep.sd-jwt")
    admitted = ok(*home.verify(with_rep, "--policy", "identity.reputation.restrict_reports=2"))
    assert admitted["admission"] == "restricted"
    refusal = refused(*home.verify(with_rep, "--policy", "identity.reputation.max_sanctions=0"))
    assert refusal == "REPUTATION_INSUFFICIENT"
    without = home.present(ALICE, "name", "b.example", "n-1", home.work / "alice-norep.sd-jwt")
    assert refused(*home.verify(without, "--policy", "identity.reputation.required=true")) == "REPUTATION_INSUFFICIENT"


def test_idir301_third_party_reputation_file(home: Home, tmp_path: Path) -> None:
    key = tmp_path / "trust.pem"
    assert mmmfed("keys", "generate", "--out", key).returncode == 0
    out = tmp_path / "rep.jwt"
    issued = ok(
        "reputation", "issue", f"did:web:{A}:users:alice", "--issuer-key", key,
        "--from", "2026-01-01", "--to", "2026-11-30", "--out", out,
    )  # fmt: skip
    assert issued["issuer"].startswith("did:key:") and issued["kept"] is None
    shown = ok("reputation", "show", out)
    assert shown["signature"] == "verified" and shown["iss"] == issued["issuer"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--from", "2026-01-01", "--to", "2026-02-01"], "ISSUER_MISSING"),
        (["--config", "CFG", "--from", "2026-13-01", "--to", "2026-12-01"], "REPUTATION_INVALID"),
        (["--config", "CFG", "--from", "2026-01-01", "--to", "2026-02-01", "--sanction", "mute"], "REPUTATION_INVALID"),
        (["--config", "CFG", "--from", "2026-01-01", "--to", "2026-02-01", "--standing", "best"], "REPUTATION_INVALID"),
    ],
)
def test_reputation_issue_bad_input_exits_2_naming_it(home: Home, args: list[str], reason: str) -> None:
    filled = [str(home.config) if a == "CFG" else a for a in args]
    assert refused("reputation", "issue", ALICE, *filled) == reason


def test_reputation_show_unreadable_file_exits_2(tmp_path: Path) -> None:
    assert refused("reputation", "show", tmp_path / "missing.jwt") == "FILE_UNREADABLE"
