"""`mmmfed agreement propose|accept|show|revoke` against running gateways."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cliproc import mmmfed_in_thread as mmmfed

from mmmfed.cli.inprocess import Federation
from mmmfed.cli.loopback import plan


async def test_an_agreement_needs_the_peers_consent_then_lives_and_is_revoked(tmp_path: Path) -> None:
    """Without b.example's consent a proposal is refused AGREEMENT_NOT_ACCEPTED; after
    `agreement accept` it becomes ACTIVE on both sides; `agreement revoke` ends it on both."""
    p = plan(tmp_path / "fed")
    p = dataclasses.replace(p, gateway_b=p.gateway_b.model_copy(update={"accept_agreements_from": []}))
    fed = await Federation(p).start()
    try:
        config_a, config_b = tmp_path / "gateway-a.json", tmp_path / "gateway-b.json"
        config_a.write_text(p.gateway_a.model_dump_json())
        config_b.write_text(p.gateway_b.model_dump_json())
        operator = ["--cert", str(p.operator_tls.cert), "--key", str(p.operator_tls.key)]

        keyless = ["--cert", str(p.operator_tls.cert), "--key", str(tmp_path / "no-such.key")]
        unreadable = await mmmfed("agreement", "propose", "b.example", "--config", str(config_a), *keyless)
        assert unreadable.returncode == 2 and "FILE_UNREADABLE" in unreadable.stderr, unreadable.stderr
        assert "Traceback" not in unreadable.stderr

        refused = await mmmfed("agreement", "propose", "b.example", "--config", str(config_a), *operator)
        assert refused.returncode == 2 and "AGREEMENT_NOT_ACCEPTED" in refused.stderr, refused.stderr

        assert (await mmmfed("agreement", "accept", "a.example", "--config", str(config_b))).returncode == 0
        proposed = await mmmfed("agreement", "propose", "b.example", "--config", str(config_a), *operator)
        assert proposed.returncode == 0 and proposed.stdout.startswith("ACTIVE urn:uuid:"), proposed.stderr

        shown = json.loads((await mmmfed("agreement", "show", "--config", str(config_b), "--json")).stdout)
        assert shown["a.example"]["Status"] == "ACTIVE"

        revoked = await mmmfed("agreement", "revoke", "b.example", "--config", str(config_a), *operator)
        assert revoked.returncode == 0 and revoked.stdout.startswith("REVOKED"), revoked.stderr
        for config in (config_a, config_b):
            shown = json.loads((await mmmfed("agreement", "show", "--config", str(config), "--json")).stdout)
            assert [r["Status"] for r in shown.values()] == ["REVOKED"]
    finally:
        await fed.stop()
