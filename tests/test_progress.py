"""The progress display of ``fastnn reproduce`` and the training loop's progress hook."""

import io
import sys

import numpy as np
import pytest

from fastnn import cli
from fastnn._progress import Progress, format_duration
from fastnn.training import progress_listener


class FakeTTY(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _frames(text):
    return [f.rstrip() for f in text.split("\r") if f.strip()]


def test_format_duration():
    assert format_duration(4.24) == "4.2s"
    assert format_duration(65) == "1:05"
    assert format_duration(3723) == "1:02:03"
    assert format_duration(None) == "--"


def test_bar_on_a_terminal_redraws_one_line():
    stream, clock = FakeTTY(), Clock()
    p = Progress(stream, clock=clock, columns=120)
    assert p.style == "bar"
    p.start("optimization: adam")
    p.phase("numpy")
    clock.t += 2.0
    p.update(250, 1000)
    clock.t += 2.0
    p.update(500, 1000)
    text = stream.getvalue()
    assert "\n" not in text                      # one line, redrawn with \r
    last = _frames(text)[-1]
    assert last.startswith("optimization: adam [numpy] |")
    assert " 50%" in last
    assert "4.0s elapsed" in last
    assert "ETA 4.0s" in last                    # 500 steps in 4 s, 500 to go
    assert "|##########----------|" in last      # StringIO has no encoding: ASCII bar


def test_bar_throttles_redraws_and_always_draws_the_end():
    stream, clock = FakeTTY(), Clock()
    p = Progress(stream, clock=clock, min_interval=0.5, columns=120)
    p.start("x")
    p.phase("numba")
    n0 = stream.getvalue().count("\r")
    for done in range(1, 10):               # no time passes: throttled
        p.update(done, 10)
    assert stream.getvalue().count("\r") == n0
    p.update(10, 10)                         # the finished run is drawn
    assert stream.getvalue().count("\r") == n0 + 1
    assert "100%" in _frames(stream.getvalue())[-1]


def test_bar_new_run_restarts_eta_and_close_erases():
    stream, clock = FakeTTY(), Clock()
    p = Progress(stream, clock=clock, min_interval=0.0, columns=120)
    p.start("planar: sweep")
    p.phase("numba")
    clock.t += 10.0
    p.update(90, 100)
    p.update(10, 100)                        # a second run in the same phase
    clock.t += 1.0
    p.update(50, 100)
    assert "ETA 1.0s" in _frames(stream.getvalue())[-1]   # from the new run's rate
    p.close()
    text = stream.getvalue()
    assert text.endswith("\r")
    tail = text.rsplit("\r", 2)[-2]
    assert tail.strip() == "" and len(tail) >= len(_frames(text)[-1])
    assert "\n" not in text


def test_bar_fits_the_terminal_width():
    stream, clock = FakeTTY(), Clock()
    p = Progress(stream, clock=clock, columns=60)
    p.start("regularization: dropout, keep_prob = 0.86 and a long label")
    p.phase("numpy")
    p.update(30, 100)
    line = p.line()
    assert len(line) <= 59
    assert line.endswith("ETA 0.0s") and "~" in line    # the label is cut, not the ETA


def test_plain_lines_when_not_a_terminal():
    stream, clock = io.StringIO(), Clock()
    p = Progress(stream, clock=clock)
    assert p.style == "lines"
    p.start("initialization: he")
    p.phase("numba")
    p.update(500, 1000)
    p.start("initialization: zeros")
    p.close()
    assert stream.getvalue() == "  ... initialization: he\n  ... initialization: zeros\n"


def test_silent_without_a_stream():
    p = Progress(None)
    assert not p.enabled
    p.start("a")
    p.phase("numba")
    p.update(1, 2)
    p.close()


def test_bad_style():
    with pytest.raises(ValueError, match="style"):
        Progress(io.StringIO(), style="fancy")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_listener_sees_chunks_and_results_do_not_change(backend):
    import fastnn
    from fastnn.optimization import load_dataset, model

    train_X, train_Y = load_dataset()
    dims = [train_X.shape[0], 5, 2, 1]
    with fastnn.use_backend(backend):
        plain = model(train_X, train_Y, dims, "adam", num_epochs=500, print_cost=False)
        seen = []
        with progress_listener(lambda done, total: seen.append((done, total))):
            chunked = model(train_X, train_Y, dims, "adam", num_epochs=500,
                            print_cost=False)
        model(train_X, train_Y, dims, "adam", num_epochs=100, print_cost=False)
    # chunks of a multiple of the cost interval (100 epochs here), none outside the block
    assert seen == [(100, 500), (200, 500), (300, 500), (400, 500), (500, 500)]
    for key in plain:
        np.testing.assert_array_equal(plain[key], chunked[key])


def _reproduce(monkeypatch, tmp_path, stderr, *extra):
    monkeypatch.setattr(sys, "stderr", stderr)
    rc = cli.main(["reproduce", "optimization", "--quick", "--no-baseline",
                   "--out", str(tmp_path), *extra])
    assert rc == 0
    return stderr.getvalue()


def test_reproduce_shows_the_bar_on_a_terminal(monkeypatch, tmp_path, capsys):
    err = _reproduce(monkeypatch, tmp_path, FakeTTY())
    frames = _frames(err)
    assert any(f.startswith("optimization: adam [numba] |") and "100%" in f
               for f in frames)
    assert any("[numba: compiling]" in f for f in frames)
    assert "\n" not in err and err.endswith("\r")            # erased at the end
    assert "## Optimization" in capsys.readouterr().out


def test_reproduce_is_silent_off_a_terminal(monkeypatch, tmp_path):
    assert _reproduce(monkeypatch, tmp_path, io.StringIO()) == ""


def test_reproduce_verbose_prints_plain_lines(monkeypatch, tmp_path):
    err = _reproduce(monkeypatch, tmp_path, io.StringIO(), "--verbose")
    assert err.splitlines() == ["  ... optimization: gd", "  ... optimization: momentum",
                                "  ... optimization: adam"]


def test_reproduce_report_names_the_machine_and_software(monkeypatch, tmp_path):
    import numba

    from fastnn.bench import _cpu_model, _ncpus

    _reproduce(monkeypatch, tmp_path, io.StringIO())
    head = (tmp_path / "report.md").read_text().splitlines()[2]
    assert f"{_cpu_model()}, {_ncpus()} cores" in head
    assert f"NumPy {np.__version__}, Numba {numba.__version__}, 1 BLAS thread." in head
