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
