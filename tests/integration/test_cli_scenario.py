"""`mmmfed scenario phase0 --json`: the use case's steps and Activity Data as one JSON object on
stdout, progress on stderr (one run, about 13 s: five node processes start and stop)."""

from __future__ import annotations

import json

from cliproc import mmmfed
from sample_assets import needs_samples

pytestmark = needs_samples


def test_scenario_json_is_one_object_with_every_step_and_the_activity_data() -> None:
    done = mmmfed("scenario", "phase0", "--json", columns=80)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)  # nothing but the object on stdout
    assert set(doc) == {"federated", "ok", "steps", "activity"}
    assert (doc["federated"], doc["ok"], list(doc["activity"])) == (False, True, ["a.example"])
    step_keys = {"index", "title", "m_instance_id", "action", "pa_status", "error", "reason", "expected", "ok"}
    assert all(set(step) == step_keys and step["ok"] for step in doc["steps"])
    assert (doc["steps"][-1]["pa_status"], doc["steps"][-1]["error"]) == ("Error", "InsRights")
    assert len(doc["activity"]["a.example"]) >= len(doc["steps"])
    assert "mmmfed scenario: phase 0 use case" in done.stderr
