"""The Python examples in README.md and docs/*.md run as written.

The code blocks of one page share a namespace and run in order; a block that needs an
optional package (a comment line ``# needs: pip install ...``) is skipped when that
package is missing.
"""

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
_NEEDS = re.compile(r"#\s*needs:\s*pip install\s+\"?([A-Za-z0-9_\-]+)")


def _blocks(page):
    return _BLOCK.findall(page.read_text())


@pytest.mark.parametrize("page", [p for p in PAGES if p.exists() and _blocks(p)],
                         ids=lambda p: p.name)
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    ran = 0
    for block in _blocks(page):
        need = _NEEDS.search(block)
        if need and importlib.util.find_spec(need.group(1).split("[")[0]) is None:
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, f"{page.name}", "exec"), namespace)
        ran += 1
    assert ran > 0


def _public_functions():
    import inspect
    import pkgutil

    import fastnn

    names = ["fastnn"] + [f"fastnn.{m.name}" for m in pkgutil.iter_modules(fastnn.__path__)
                          if not m.name.startswith("_")]
    for name in names:
        module = importlib.import_module(name)
        public = getattr(module, "__all__", None)
        if public is None:
            public = [n for n in vars(module) if not n.startswith("_")]
        for attr in public:
            obj = getattr(module, attr)
            if not getattr(obj, "__module__", "").startswith("fastnn"):
                continue
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj
            elif inspect.isclass(obj):
                for meth, raw in vars(obj).items():
                    fn = getattr(raw, "__func__", raw)       # classmethod, staticmethod
                    if not meth.startswith("_") and inspect.isfunction(fn):
                        yield f"{name}.{attr}.{meth}", fn


def test_public_functions_have_numpydoc_docstrings():
    """Every public function and method of the package documents its parameters."""
    import inspect

    missing = []
    for name, fn in _public_functions():
        doc = inspect.getdoc(fn) or ""
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                  and p.name not in ("self", "cls")]
        if not doc:
            missing.append(f"{name}: no docstring")
        elif params and "Parameters\n----------" not in doc:
            missing.append(f"{name}: no Parameters section")
    assert not missing, "\n".join(missing)
