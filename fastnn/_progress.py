"""A one-line progress display for long commands (``fastnn reproduce``), no dependencies.

On a terminal the line is redrawn in place with ``\\r``::

    optimization: adam [numpy] |#########-----------|  45% 3.1s elapsed, ETA 3.8s

The label names the task, the bracket the phase (the backend being timed), the bar and
the percent the current training run (updated between its chunks of epochs), the
elapsed time is the task's and the ETA the current run's. On a stream that is not a
terminal (a log file, CI) each task prints one plain line instead; with no stream
nothing is written.
"""

import shutil
import time

__all__ = ["Progress", "format_duration"]


def format_duration(seconds):
    """Short human duration: ``4.2s``, ``1:05``, ``1:02:03``.

    Parameters
    ----------
    seconds : float

    Returns
    -------
    str
    """
    if seconds is None or seconds != seconds or seconds < 0:
        return "--"
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """Progress of a sequence of tasks, each made of phases that report ``done / total``.

    Parameters
    ----------
    stream : file-like or None
        Where to write; None is silent.
    style : {"auto", "bar", "lines"}
        ``"bar"``: one ``\\r``-redrawn line; ``"lines"``: one plain line per task;
        ``"auto"``: ``"bar"`` when ``stream.isatty()``, else ``"lines"``.
    width : int
        Cells of the bar.
    min_interval : float
        Seconds between two redraws of the bar (a finished run is always drawn).
    clock : callable
        Monotonic clock in seconds (injectable for tests).
    columns : int, optional
        Line width to fit in; default the terminal's (80 when unknown).

    Examples
    --------
    >>> import io
    >>> p = Progress(io.StringIO(), style="lines")
    >>> p.start("optimization: adam")
    >>> p.phase("numba")
    >>> p.update(500, 1000)
    >>> p.close()
    >>> p.stream.getvalue()
    '  ... optimization: adam\\n'
    """

    def __init__(self, stream, style="auto", width=20, min_interval=0.1,
                 clock=time.monotonic, columns=None):
        if style not in ("auto", "bar", "lines"):
            raise ValueError(f"style must be 'auto', 'bar' or 'lines', got {style!r}")
        self.stream = stream
        if stream is None:
            self.style = None
        elif style == "auto":
            self.style = "bar" if _isatty(stream) else "lines"
        else:
            self.style = style
        self.width = int(width)
        self.min_interval = float(min_interval)
        self.clock = clock
        self.columns = columns
        self.label = None
        self._phase = None
        self._t_task = self._t_run = None
        self._done = self._total = None
        self._last_draw = None
        self._drawn = 0
        self._fill = "#"
        if self.style == "bar":
            try:
                "\u2588\u2591".encode(getattr(stream, "encoding", None) or "ascii")
                self._fill = "\u2588"
            except (LookupError, UnicodeEncodeError):
                pass

    @property
    def enabled(self):
        """Whether anything is written."""
        return self.style is not None

    def start(self, label):
        """Begin a task (the previous one, if any, ends).

        Parameters
        ----------
        label : str
        """
        if not self.enabled:
            return
        self.label = str(label)
        self._phase = None
        self._t_task = self._t_run = self.clock()
        self._done = self._total = None
        if self.style == "lines":
            self._write(f"  ... {self.label}\n")
        else:
            self._draw(force=True)

    def phase(self, name):
        """Begin a phase of the current task (its run progress starts again at 0).

        Parameters
        ----------
        name : str
            Shown in brackets after the label.
        """
        if not self.enabled:
            return
        self._phase = str(name)
        self._t_run = self.clock()
        self._done = self._total = None
        if self.style == "bar":
            self._draw(force=True)

    def update(self, done, total):
        """Progress of the current run: ``done`` of ``total`` steps.

        A ``done`` smaller than the last one (a new run within the same phase) restarts
        the run's clock, so that the ETA follows the current run.

        Parameters
        ----------
        done, total : int
        """
        if not self.enabled:
            return
        if self._done is not None and done < self._done:
            self._t_run = self.clock()
        self._done, self._total = int(done), int(total)
        if self.style == "bar":
            self._draw(force=done >= total)

    def close(self):
        """Erase the bar (nothing to do for plain lines)."""
        if self.style == "bar" and self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    # ------------------------------------------------------------------ drawing
    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):     # a closed or broken stream: stop writing
            self.style = None

    def line(self):
        """The bar's current text (without ``\\r`` and padding).

        Returns
        -------
        str
        """
        now = self.clock()
        head = self.label or ""
        if self._phase:
            head += f" [{self._phase}]"
        tail = []
        if self._total:
            frac = min(max(self._done / self._total, 0.0), 1.0)
            cells = int(round(frac * self.width))
            tail.append("|" + self._fill * cells + "-" * (self.width - cells) + "|")
            tail.append(f"{100 * frac:3.0f}%")
        times = f"{format_duration(now - self._t_task)} elapsed"
        if self._total:
            run = now - self._t_run
            eta = (run * (self._total - self._done) / self._done) if self._done else None
            times += f", ETA {format_duration(eta)}"
        tail = " ".join([*tail, times])
        columns = self.columns or shutil.get_terminal_size((80, 24)).columns
        room = columns - 2 - len(tail)              # one space, one spare column
        if len(head) > room:
            head = head[:max(room - 1, 0)] + "~"
        return f"{head} {tail}"

    def _draw(self, force=False):
        now = self.clock()
        if (not force and self._last_draw is not None
                and now - self._last_draw < self.min_interval):
            return
        self._last_draw = now
        text = self.line()
        pad = max(self._drawn - len(text), 0)
        self._write("\r" + text + " " * pad)
        self._drawn = len(text)
