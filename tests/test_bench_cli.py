"""Functional tests of ``fastnn bench``: output structure and the gate's exit codes.

Only the NumPy backend (compared with itself) and tiny workloads with one short sample,
so the whole file runs in a few seconds. Nothing here asserts on a time.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from fastnn import bench
from fastnn.cli import main

FAST = ["--quick", "--repeats", "1", "--min-time", "0.001", "-q"]
# The gate tests time grad_check-course-f64: a few ms, and no machine-limit probe.
NUMPY = ["--backend", "numpy"]


def _floors(tmp_path, doc, name="floors.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_json_file_structure(tmp_path, capsys):
    out = tmp_path / "res.json"
    rc = main(["bench", *FAST, *NUMPY, "--only", "sgd-1e3-f64",
               "--only", "grad_check-course-f64", "--json", str(out)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "workload" in table and "sgd-1e3-f64" in table and "ratio" in table
    doc = json.loads(out.read_text())
    assert doc["mode"] == "quick"
    assert doc["baseline"] == "numpy"
    assert doc["backends"] == ["numpy"]
    assert [w["name"] for w in doc["workloads"]] == ["sgd-1e3-f64", "grad_check-course-f64"]
    sgd, gc = doc["workloads"]
    assert sgd["limit"] == "bandwidth" and sgd["bytes"] == 3 * 1000 * 8
    assert gc["limit"] is None
    for row in doc["workloads"]:
        assert row["numpy"]["median_s"] > 0
        assert len(row["numpy"]["samples_s"]) == 1
        res = row["results"]["numpy"]
        assert res["ratio"] > 0 and res["median_s"] > 0
    assert sgd["results"]["numpy"]["limit_fraction"] > 0
    assert gc["results"]["numpy"]["limit_fraction"] is None
    assert doc["machine"]["bandwidth_gbs"] > 0
    assert "check" not in doc


def test_json_to_stdout_moves_table_to_stderr(capsys):
    rc = main(["bench", *FAST, *NUMPY, "--only", "sgd-1e3-f64", "--json", "-"])
    assert rc == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["workloads"][0]["name"] == "sgd-1e3-f64"
    assert "workload" in captured.err


def _blas_threads_now():
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


@pytest.mark.parametrize("flag", [[], ["--blas-threads", "1"], ["--blas-threads", "0"]])
def test_blas_thread_limit_applies_while_timing_and_is_recorded(flag, capsys):
    own = _blas_threads_now()
    rc = main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", *flag,
               "--json", "-"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["machine"]["blas_threads"] == (own if flag[1:] == ["0"] else 1)
    assert _blas_threads_now() == own                 # restored afterwards


def test_blas_limit_reaches_the_blas_numba_loads_later():
    # in a fresh process: SciPy's BLAS (Numba's) is imported inside the limit; the
    # helper's module imports scikit-learn, which may already have loaded it, so this
    # guards the property (every BLAS limited), not the helper's explicit pre-load
    code = textwrap.dedent("""
        from threadpoolctl import threadpool_info
        from fastnn.parallel import _limit_pools
        with _limit_pools(1, "blas"):
            import scipy.linalg.cython_blas
            print({i["filepath"]: i["num_threads"] for i in threadpool_info()
                   if i["user_api"] == "blas"})
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    threads = eval(out)
    assert len(threads) >= 2 and set(threads.values()) == {1}, threads


def test_negative_blas_threads_is_an_error(capsys):
    assert main(["bench", *FAST, *NUMPY, "--blas-threads", "-1"]) == 2
    assert "--blas-threads must be 0" in capsys.readouterr().err


def test_unavailable_backend_is_reported_not_fatal(capsys):
    rc = main(["bench", *FAST, "--backend", "numpy,cuda", "--only", "grad_check-course-f64",
               "--json", "-"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    if "cuda" not in doc["backends"]:
        assert "cuda" in doc["skipped_backends"]


def test_check_passes(tmp_path, capsys):
    floors = _floors(tmp_path, {"_comment": "test", "required_backends": ["numba"],
                                "quick": {"numpy": {"grad_check-course-f64": 0.001}}})
    rc = main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", "--check",
               "--floors", floors])
    assert rc == 0
    assert "bench check passed" in capsys.readouterr().out


def test_check_fails_naming_workload_ratio_and_floor(tmp_path, capsys):
    floors = _floors(tmp_path, {"quick": {"numpy": {"grad_check-course-f64": 1000.0}}})
    out = tmp_path / "res.json"
    rc = main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", "--check",
               "--floors", floors, "--json", str(out)])
    assert rc == 1
    text = capsys.readouterr().out
    assert "FAIL grad_check-course-f64 [numpy]" in text
    assert "below its floor 1000.00x" in text
    doc = json.loads(out.read_text())
    assert doc["check"]["status"] == 1
    (failure,) = doc["check"]["failures"]
    assert failure["workload"] == "grad_check-course-f64" and failure["floor"] == 1000.0
    # re-measured once (--retries 1 by default) before failing
    assert len(doc["workloads"][0]["results"]["numpy"]["attempts"]) == 2


def test_check_without_numba_fails_with_the_committed_floors(monkeypatch, capsys):
    # CI on a machine where the compiled backend cannot load must not pass vacuously.
    real_get = bench.kernels.get

    def get(name):
        if name == "numba":
            raise RuntimeError("backend 'numba' cannot be used: simulated")
        return real_get(name)

    monkeypatch.setattr(bench.kernels, "get", get)
    rc = main(["bench", *FAST, "--only", "grad_check-course-f64", "--check"])
    assert rc == 2
    text = capsys.readouterr().out
    assert "backend 'numba' is required by the floors file but unavailable here" in text
    assert "simulated" in text


def test_check_required_backend_missing_exits_2(tmp_path, capsys):
    # numba has floors and is required, but it is not benchmarked (--backend numpy):
    # the gate must not pass vacuously.
    floors = _floors(tmp_path, {"required_backends": ["numba"],
                                "quick": {"numba": {"grad_check-course-f64": 1.0}}})
    rc = main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", "--check",
               "--floors", floors])
    assert rc == 2
    text = capsys.readouterr().out
    assert "backend 'numba' is required" in text
    assert "bench check ERROR" in text


def test_check_optional_backend_missing_is_skipped(tmp_path, capsys):
    if "cuda" in bench.kernels.available():
        pytest.skip("a CUDA device is present")
    floors = _floors(tmp_path, {"required_backends": ["numba"],
                                "quick": {"cuda": {"grad_check-course-f64": 5.0},
                                          "numpy": {"grad_check-course-f64": 0.001}}})
    rc = main(["bench", *FAST, "--backend", "numpy,cuda", "--only",
               "grad_check-course-f64", "--check", "--floors", floors])
    assert rc == 0
    text = capsys.readouterr().out
    assert "skipped grad_check-course-f64 [cuda]" in text
    assert "bench check passed" in text


def test_check_required_unavailable_backend_exits_2(tmp_path, capsys):
    if "cuda" in bench.kernels.available():
        pytest.skip("a CUDA device is present")
    floors = _floors(tmp_path, {"required_backends": ["cuda"],
                                "quick": {"cuda": {"grad_check-course-f64": 5.0}}})
    rc = main(["bench", *FAST, "--backend", "cuda", "--only", "grad_check-course-f64",
               "--check", "--floors", floors])
    assert rc == 2
    assert "unavailable here" in capsys.readouterr().out


def test_check_stale_floor_name_exits_2(tmp_path, capsys):
    floors = _floors(tmp_path, {"quick": {"numpy": {"grad_check-course-f64": 0.001,
                                                    "no-such-workload": 1.0}}})
    rc = main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", "--check",
               "--floors", floors])
    assert rc == 2
    assert "unknown quick workload 'no-such-workload'" in capsys.readouterr().out


def test_check_without_floors_for_the_mode_exits_2(tmp_path):
    floors = _floors(tmp_path, {"full": {"numpy": {"grad_check-course-f64": 0.001}}})
    assert main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", "--check",
                 "--floors", floors]) == 2


def test_missing_floors_file_exits_2(tmp_path):
    assert main(["bench", *FAST, *NUMPY, "--only", "grad_check-course-f64", "--check",
                 "--floors", str(tmp_path / "nope.json")]) == 2


def test_external_workloads_and_plot(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_bench_mod.py").write_text(textwrap.dedent("""
        import numpy as np
        from fastnn.bench import Workload

        def _setup(backend):
            if backend not in ("numpy",):
                raise NotImplementedError(backend)
            x = np.ones(100)
            return lambda: np.multiply(x, 1.0, out=x)

        WORKLOADS = [Workload("double-1e2", _setup, kernel="double")]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    floors = _floors(tmp_path, {"quick": {"numpy": {"double-1e2": 0.001}}})
    png = tmp_path / "ratios.png"
    rc = main(["bench", *FAST, *NUMPY, "--workloads", "my_bench_mod:WORKLOADS", "--check",
               "--floors", floors, "--plot", str(png)])
    assert rc == 0
    assert "double-1e2" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_workloads_spec_exits_2():
    assert main(["bench", *FAST, "--workloads", "no_such_module_xyz:W"]) == 2


def test_list(capsys):
    assert main(["bench", "--list", "--quick"]) == 0
    names = capsys.readouterr().out.split()
    assert "adam-1e7-f64" in names and "adam-1e6-f64" not in names


def test_derive_floors_rule():
    def doc(r1, r2):
        return {"mode": "quick", "workloads": [
            {"name": "a", "results": {"numba": {"ratio": r1}}},
            {"name": "b", "results": {"numba": {"ratio": r2}}}]}

    mode, floors = bench.derive_floors([doc(10.0, 1.0), doc(8.0, 1.1), doc(12.0, 0.9)])
    assert mode == "quick"
    assert floors["numba"]["a"] == 4.0          # 0.5 x min(8, 10, 12) < 0.6 x median 10
    assert floors["numba"]["b"] == 0.45         # 0.5 x 0.9


def test_committed_floors_cover_the_quick_gate():
    doc = bench.load_floors(bench.default_floors_path())
    assert "numba" in doc["required_backends"]
    assert doc["_comment"]
    quick = {w.name for w in bench.workloads("quick")}
    full = {w.name for w in bench.workloads("full")}
    assert set(doc["quick"]["numba"]) == quick
    assert set(doc["full"]["numba"]) <= full
    for mode in ("quick", "full"):
        for name, floor in doc[mode]["numba"].items():
            assert 0 < floor, (mode, name)


def test_model_rows_call_the_facade_on_their_backend(monkeypatch):
    # each row's call trains through fastnn.<notebook>.model() on the backend it names:
    # the NumPy baseline's training loop runs for the numpy row only
    from fastnn.kernels import numpy_ref

    calls = []
    real = numpy_ref.train_mlp

    def counted(*args, **kwargs):
        calls.append(args[2].tolist() if hasattr(args[2], "tolist") else list(args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(numpy_ref, "train_mlp", counted)
    dims = {"model_regularization-notebook-f64": [2, 20, 3, 1],
            "model_initialization-notebook-f64": [2, 10, 5, 1],
            "model_optimization-adam-f64": [2, 5, 2, 1]}
    assert set(bench.MODELS) == set(dims)
    quick = {w.name: w for w in bench.workloads("quick")}
    for name in bench.MODELS:
        assert quick[name].kernel == "model" and "façade" in quick[name].description
        bench.build_model(name, "numba")()
        assert calls == []
        bench.build_model(name, "numpy")()
        assert calls and calls[-1] == dims[name]
        calls.clear()
    with pytest.raises(ValueError, match="unknown façade row"):
        bench.build_model("model_nope", "numpy")
