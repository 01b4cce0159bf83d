"""The estimator, memory and startup sections of ``fastnn bench``: selection, JSON,
tables, and what they measure (accuracies of both classifiers, the memory lower bound,
a startup row's phases).

Timings are never asserted; accuracies and byte counts are.
"""

import dataclasses
import json

import numpy as np
import pytest

from fastnn import bench
from fastnn.cli import main

FAST = ["--quick", "--repeats", "1", "--min-time", "0.001", "-q"]


def _run(tmp_path, capsys, *args):
    """``fastnn bench ARGS --json FILE``: the exit status asserted 0; (table, JSON)."""
    out = tmp_path / "bench.json"
    assert main(["bench", *args, "--json", str(out)]) == 0
    return capsys.readouterr().out, json.loads(out.read_text())


def _names(capsys, *args):
    assert main(["bench", "--list", *args]) == 0
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()]


def test_list_and_only_select_the_sections(capsys):
    full = _names(capsys)
    quick = _names(capsys, "--quick")
    assert {"estimator-football", "estimator-synthetic-20k", "peakmem-regularization-1e6",
            "peakmem-deep-1e6"} <= set(full)
    assert "estimator-football" in quick
    assert not {"estimator-synthetic-20k", "peakmem-regularization-1e6"} & set(quick)
    assert _names(capsys, "--only", "estimator") == ["estimator-football",
                                                     "estimator-synthetic-20k"]
    assert _names(capsys, "--only", "peakmem-*") == ["peakmem-regularization-1e6",
                                                     "peakmem-deep-1e6"]
    assert _names(capsys, "--quick", "--only", "estimator*") == ["estimator-football"]
    # another project's workloads: fastnn's own estimator and memory rows stay out
    assert not [n for n in _names(capsys, "--workloads", "fastnn.bench:WORKLOADS")
                if n.startswith(("estimator", "peakmem"))]
    assert _names(capsys, "--only", "startup-*") == [c.name for c in bench.STARTUP_CASES]
    # the memory and startup rows are full-run only: nothing matches in quick mode
    assert _names(capsys, "--quick", "--only", "peakmem") == []
    assert _names(capsys, "--quick", "--only", "startup") == []
    assert main(["bench", "--quick", "--only", "peakmem"]) == 2
    assert "no quick workload matches" in capsys.readouterr().err


def test_estimator_row_football(tmp_path, capsys):
    table, doc = _run(tmp_path, capsys, *FAST, "--only", "estimator-football")
    assert "estimator-football" in table and "sklearn fit" in table
    assert "fastnn[numba] fit" in table and "not gated" in table
    assert doc["workloads"] == [] and doc["memory"] == []
    assert "check" not in doc
    (row,) = doc["estimator"]
    assert row["name"] == "estimator-football"
    assert row["data"] == {"n_train": 211, "n_test": 200, "n_features": 2}
    settings = row["settings"]
    assert settings["hidden_layer_sizes"] == [20, 3] and settings["optimizer"] == "adam"
    assert settings["l2"] == 0.0 and settings["epochs"] == 300
    sk, ours = row["sklearn"], row["results"]["numba"]
    for res in (sk, ours):
        assert res["n_iter"] == 300                 # every epoch ran, on both sides
        assert res["fit_s"] > 0 and len(res["samples_s"]) == 1
        assert 0.0 <= res["train_acc"] <= 1.0 and 0.0 <= res["test_acc"] <= 1.0
    assert ours["train_acc"] > 0.8 and ours["test_acc"] > 0.8    # it learned the data
    assert ours["ratio"] == pytest.approx(sk["fit_s"] / ours["fit_s"])
    # same data, network and optimizer: fastnn is not worse than scikit-learn
    assert ours["test_acc"] >= sk["test_acc"] - 0.05
    assert ours["train_acc"] >= sk["train_acc"] - 0.05


def test_build_estimators_match():
    case = bench.ESTIMATOR_CASES[0]
    ours, theirs = bench.build_estimators(case, "numpy", epochs=7)
    assert ours.hidden_layer_sizes == theirs.hidden_layer_sizes == (20, 3)
    assert ours.max_iter == theirs.max_iter == theirs.n_iter_no_change == 7
    assert ours.learning_rate == theirs.learning_rate_init == case.learning_rate
    assert ours.batch_size == theirs.batch_size == case.batch_size
    assert ours.optimizer == theirs.solver == "adam"
    assert ours.l2 == theirs.alpha == 0.0 and theirs.activation == "relu"
    assert not theirs.early_stopping and ours.backend == "numpy"


def test_check_is_not_affected_by_estimator_rows(tmp_path, monkeypatch, capsys):
    short = dataclasses.replace(bench.ESTIMATOR_CASES[0], epochs=20)
    monkeypatch.setattr(bench, "ESTIMATOR_CASES", [short])
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"quick": {"numpy": {"grad_check-course-f64": 0.001}}}))
    out = tmp_path / "res.json"
    rc = main(["bench", *FAST, "--backend", "numpy", "--only", "grad_check-course-f64",
               "--only", "estimator-football", "--check", "--floors", str(floors),
               "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "bench check passed (quick): 1 ratios" in text
    doc = json.loads(out.read_text())
    assert [p["workload"] for p in doc["check"]["passed"]] == ["grad_check-course-f64"]
    assert not any("estimator" in u for u in doc["check"]["unfloored"])
    (row,) = doc["estimator"]
    assert row["results"]["numpy"]["n_iter"] == 20 and row["sklearn"]["n_iter"] == 20


def test_kernel_only_run_has_empty_sections(capsys):
    rc = main(["bench", *FAST, "--backend", "numpy", "--only", "grad_check-course-f64",
               "--json", "-"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["estimator"] == [] and doc["memory"] == []
    assert [w["name"] for w in doc["workloads"]] == ["grad_check-course-f64"]


@pytest.mark.parametrize("api,dims", [("regularization", (2, 20, 3, 1)),
                                      ("deep", (3, 8, 4, 1))])
def test_memory_minimum_is_what_the_pass_returns(api, dims):
    # the lower bound counts exactly the arrays the façade pass hands back
    case = bench.MemoryCase("t", api, dims, m=500)
    fn, init = bench._memory_pass(api)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((dims[0], case.m))
    Y = (X[:1] > 0).astype(float)
    parameters = init(list(dims))
    out = fn(X, Y, parameters)
    skip = {a.__array_interface__["data"][0] for a in (X, Y, *parameters.values())}
    arrays = {a.__array_interface__["data"][0]: a.nbytes for a in bench._arrays(out)
              if a.__array_interface__["data"][0] not in skip}
    assert sum(arrays.values()) == case.minimum_bytes()
    with pytest.raises(ValueError, match="api"):
        bench.MemoryCase("t", "nope").minimum_bytes()


def test_memory_rows_1e6(tmp_path, capsys):
    table, doc = _run(tmp_path, capsys, "-q", "--only", "peakmem-regularization-1e6")
    assert "peakmem-regularization-1e6" in table and "numba peak" in table
    assert doc["mode"] == "full" and doc["workloads"] == [] and doc["estimator"] == []
    (row,) = doc["memory"]
    assert row["errors"] == {}
    assert row["m"] == 10**6 and row["dims"] == [2, 20, 3, 1]
    minimum = row["minimum_bytes"]
    assert minimum == (2 * 24 + 24 + 23) * 10**6 * 8 + (60 + 63 + 4) * 8   # 760 MB
    assert set(row["results"]) == {"numpy", "numba"}
    for b, res in row["results"].items():
        assert res["inputs_bytes"] == 3 * 10**6 * 8
        assert res["results_bytes"] == minimum
        # resident memory saw at least what the pass returned (a page-sized margin)
        assert res["held_bytes"] >= 0.99 * minimum
        assert res["peak_bytes"] >= res["held_bytes"] > 0
        assert res["tracemalloc_peak_bytes"] >= minimum
        assert res["vs_minimum"] == pytest.approx(res["peak_bytes"] / minimum)
        assert res["seconds"] > 0
    assert row["results"]["numpy"]["vs_baseline"] == 1.0
    numba = row["results"]["numba"]
    assert numba["vs_baseline"] == pytest.approx(
        numba["peak_bytes"] / row["results"]["numpy"]["peak_bytes"])


def test_startup_row_runs_new_processes(tmp_path, capsys):
    table, doc = _run(tmp_path, capsys, "-q", "--only", "startup-linear_relu_fwd")
    assert "startup-linear_relu_fwd" in table and "import + first" in table
    assert doc["workloads"] == [] and doc["estimator"] == [] and doc["memory"] == []
    (row,) = doc["startup"]
    assert row["errors"] == {} and row["goal_s"] == bench.STARTUP_GOAL_S
    assert set(row["results"]) == {"numba"}          # the baseline compiles nothing
    res = row["results"]["numba"]
    assert len(res["samples"]) == 3 and res["prime_first_s"] > 0
    for key in ("import_s", "first_s", "second_s"):
        assert res[key] == pytest.approx(sorted(s[key] for s in res["samples"])[1])
    assert res["ready_s"] == pytest.approx(
        sorted(s["import_s"] + s["first_s"] for s in res["samples"])[1])


def test_startup_errors_and_table():
    bad = bench.StartupCase("startup-bad", "no_such_family/notebook")
    (row,) = bench.run_startup_cases([bad], ["numba"], repeats=1, stream=None)
    assert row["results"] == {}
    assert "unknown kernel family 'no_such_family'" in row["errors"]["numba"]
    with pytest.raises(ValueError, match="repeats"):
        bench.run_startup_cases([bad], ["numba"], repeats=0)
    sample = {"import_s": 0.2, "first_s": 0.3, "second_s": 1e-5}
    rows = [{"name": name, "goal_s": 1.0, "errors": {},
             "results": {"numba": {**sample, "first_s": first, "ready_s": 0.2 + first,
                                   "samples": [sample]}}}
            for name, first in (("fast", 0.3), ("slow", 0.9))]
    rows[1]["errors"] = {"cuda": "RuntimeError: x"}
    lines = bench.format_startup_table(rows).splitlines()
    assert "500.00 ms" in lines[2] and lines[2].endswith("<= 1 s: met")
    assert "1.10 s" in lines[3] and lines[3].endswith("<= 1 s: NOT met")
    assert lines[4].split("|")[2].strip() == "ERROR"
