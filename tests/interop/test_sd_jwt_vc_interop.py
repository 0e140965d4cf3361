"""Interoperability of mmmfed's identity presentations and status lists with an independent
implementation (issue 17 "Done when"; FGMV-43 9.4 steps 2-3): ``sd_jwt_vc_verify.mjs`` beside
this file runs npm ``@sd-jwt/sd-jwt-vc`` and ``@sd-jwt/jwt-status-list`` 0.19 on node:crypto and
reads only the files mmmfed writes (presentation, JWK Set, status list token).

Skipped when ``node`` or the npm packages are missing: ``make setup`` installs them (npm ci).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The home/destination set-up is shared with tests/unit/test_identity_verifier.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from identity_helpers import DEST, STATUS_URI, T0_S, Home, make_home, make_verifier, presentation

from mmmfed.identity.jose import b64url_encode, json_bytes
from mmmfed.identity.jwks import instance_jwk_set
from mmmfed.identity.presentation import present
from mmmfed.identity.sdjwt import SdJwt, parse_disclosure, parse_sd_jwt

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("sd_jwt_vc_verify.mjs")
NODE = shutil.which("node")
PACKAGES = ("@sd-jwt/sd-jwt-vc", "@sd-jwt/jwt-status-list")
_MISSING = [p for p in PACKAGES if not (ROOT / "node_modules" / p / "package.json").is_file()]
if NODE is None or _MISSING:
    pytest.skip(
        f"needs node and the npm packages {', '.join(_MISSING or PACKAGES)} in {ROOT / 'node_modules'}: "
        "run `make setup`",
        allow_module_level=True,
    )


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return make_home(tmp_path)


def node_verify(home: Home, tmp_path: Path, text: str, nonce: str, *, required: list[str] | None = None) -> Any:
    """Write the three files and ask the Node verifier about them."""
    files = {"presentation": text, "jwks": json.dumps(instance_jwk_set("a.example", home.keys.records()))}
    files["status_list"] = home.status_token(STATUS_URI)
    request: dict[str, Any] = {"nonce": nonce, "audience": DEST, "now_s": T0_S, "required": required or []}
    for name, content in files.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(content)
        request[name] = str(path)
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT)], input=json.dumps(request), capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_fgmv43_9_4_step3_npm_verifier_accepts_our_presentation_with_only_the_chosen_claims(
    home: Home, tmp_path: Path
) -> None:
    text, nonce = presentation(home, make_verifier(home), ["name", "age_over_18"])
    answer = node_verify(home, tmp_path, text, nonce, required=["name", "age_over_18"])
    assert answer["ok"], answer
    claims = answer["claims"]
    assert (claims["name"], claims["age_over_18"], claims["vct"]) == ("Ada", True, "https://mmmfed.dev/vct/identity/v1")
    profile = {"birthdate", "age_over_13", "age_over_16", "age_over_21", "languages", "comfort", "avatars", "assets"}
    assert not profile & set(claims), claims
    assert answer["kb"]["aud"] == DEST and answer["status"] == 0


def test_idir306_npm_verifier_refuses_a_revoked_credential_from_our_status_list(home: Home, tmp_path: Path) -> None:
    text, nonce = presentation(home, make_verifier(home), ["name"])
    home.status.revoke(7)
    answer = node_verify(home, tmp_path, text, nonce)
    assert not answer["ok"] and "status" in answer["error"].lower(), answer


def test_idir306_npm_verifier_refuses_what_ours_refuses(home: Home, tmp_path: Path) -> None:
    """A wrong nonce, a disclosure dropped after key binding, and a forged disclosure under a
    KB-JWT the holder signed afresh (so only the issuer's digests can catch it).

    For the last, @sd-jwt 0.19 does not refuse: it drops a disclosure no digest references and
    verifies the rest (RFC 9901 section 7.1 step 5 asks to reject; mmmfed's verifier does, with
    DISCLOSURE_TAMPERED). Either way the forged value must not reach the verifier's claims."""
    text, nonce = presentation(home, make_verifier(home), ["name", "age_over_18"])
    assert "nonce" in node_verify(home, tmp_path, text, nonce + "x")["error"].lower()
    sd_jwt = parse_sd_jwt(text)
    dropped = SdJwt(sd_jwt.issuer_jwt, sd_jwt.disclosures[1:], sd_jwt.kb_jwt).serialize()
    assert "sd_hash" in node_verify(home, tmp_path, dropped, nonce)["error"]
    issued = home.issue()
    forged = [
        b64url_encode(json_bytes([d.salt, d.name, "Mallory"])) if d.name == "name" else d.encoded
        for d in map(parse_disclosure, issued.disclosures)
    ]
    assert home.user.signing_key is not None
    tampered = present(
        SdJwt(issued.issuer_jwt, tuple(forged)),
        disclose=["name"],
        audience=DEST,
        nonce=nonce,
        holder_key=home.user.signing_key,
        iat_s=T0_S,
    )
    answer = node_verify(home, tmp_path, tampered.serialize(), nonce)
    assert not answer["ok"] or "Mallory" not in json.dumps(answer["claims"]), answer
