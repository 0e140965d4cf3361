"""The Helm chart helm/mmmfed: ``helm lint --strict`` passes for every value set and reports values
that break the values schema, and every rendered manifest validates against the Kubernetes schemas
of one pinned version (kubernetes-validate, strict; the check is shown not to be vacuous)."""

from __future__ import annotations

import copy

import helm_python as helm
import kubernetes_validate
import pytest
from chart_render import CHART, CRD_KINDS, KUBE_VERSION, NAMESPACE, PREFIX, VALUE_SETS, find, pod_spec, render

# -- helm lint --------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_helm_lint_strict_passes(value_set: str) -> None:
    """`helm lint --strict --kube-version` reports no warning and no error for each value set."""
    report = helm.lint(CHART, VALUE_SETS[value_set], strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_helm_lint_reports_values_that_break_the_schema() -> None:
    """`helm lint` with replicas 0 reports the schema violation, naming the value."""
    report = helm.lint(CHART, {"gateway": {"replicas": 0}}, strict=True)
    assert any("/gateway/replicas" in error and "minimum" in error for error in report["errors"]), report


# -- rendered manifests against the Kubernetes schemas ----------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_manifest_validates_against_the_kubernetes_schemas(value_set: str) -> None:
    """Every rendered manifest, CRDs aside, validates strictly against Kubernetes 1.33's schemas."""
    docs = render(VALUE_SETS[value_set])
    checked = 0
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        assert doc["metadata"].get("namespace") in (None, NAMESPACE)
        checked += 1
    assert checked >= 9


def test_the_schema_check_is_strict_about_unknown_fields() -> None:
    """A rendered Deployment with a misspelt field fails validation (the check above is not vacuous)."""
    gateway = copy.deepcopy(find(render({}), "Deployment", f"{PREFIX}-gateway"))
    pod_spec(gateway)["containers"][0]["readinesProbe"] = {"periodSeconds": 5}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(gateway, KUBE_VERSION, strict=True)
