"""The RESULT line of bench/resolve.py (bench/resolve_report.py ``result_line``): one line of
``name=value`` fields, ratios to the paths measured in the same run, fields of a path left out
when that path did not run."""

from __future__ import annotations

from bench.resolve_measure import Figures
from bench.resolve_replicas import ReplicaFigures
from bench.resolve_report import result_line

CPU = {"gateway A": 3000.0, "gateway B": 4000.0, "instance B": 2000.0, "relay hop 1": 0.0, "relay hop 2": 0.0}
RELAY_CPU = {**CPU, "gateway A": 0.0, "gateway B": 0.0, "relay hop 1": 900.0, "relay hop 2": 1100.0}


def _fields(line: str) -> dict[str, str]:
    head, *pairs = line.split(" ")
    assert head == "RESULT"
    return dict(pair.split("=", 1) for pair in pairs)


def test_ratios_to_the_paths_of_the_same_run() -> None:
    figures = {
        "direct": Figures(5000.0, 9000.0, 400.0, CPU),
        "gateways": Figures(20000.0, 40000.0, 100.0, CPU),
        "python relays": Figures(10000.0, 20000.0, 200.0, RELAY_CPU),
    }
    replicas = {2: ReplicaFigures(Figures(25000.0, 50000.0, 80.0, CPU), 9.0, {"gateway A": 0.5, "gateway B": 0.75})}
    fields = _fields(result_line(figures, replicas))
    assert fields == {
        "p50_vs_direct": "4.00",
        "throughput_vs_direct": "0.25",
        "gateway_a_cpu_us": "3000",
        "gateway_b_cpu_us": "4000",
        "gateway_cpu_vs_relay": "4.00",
        "throughput_vs_relays": "0.50",
        "p50_vs_relays": "2.00",
        "replicas2_throughput_vs_1node": "0.80",
        "replicas2_round_trips_a": "0.50",
        "replicas2_round_trips_b": "0.75",
    }


def test_a_path_not_run_has_no_fields() -> None:
    figures = {"direct": Figures(5000.0, 9000.0, 400.0, CPU), "gateways": Figures(10000.0, 20000.0, 200.0, CPU)}
    fields = _fields(result_line(figures, {}))
    assert set(fields) == {"p50_vs_direct", "throughput_vs_direct", "gateway_a_cpu_us", "gateway_b_cpu_us"}
