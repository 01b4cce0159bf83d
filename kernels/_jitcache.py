"""One cache stamp for every compiled kernel: the hash of all the kernels' source files.

Numba keeps a kernel's machine code on disk (``cache=True``) and reuses it for as long
as the source file *that defines the kernel* is unchanged. The kernels compile in
functions of other files (the training loop of ``_cpu_mlp`` inlines the loops of
``_cpu_layers`` and ``_cpu_blas``, and every module freezes the constants of
``_spec``), so after an update that changes only one of those files Numba would go on
running the old code from its cache. Importing this module (every compiling kernel
module does, first) stamps each kernel of this package with the hash of all of the
package's source files instead, so a change to any of them recompiles every kernel on
its next first call.

It works through Numba's list of cache locators: for files of this package, locators
that return :data:`STAMP` come before Numba's own, in the same order (a directory in
``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the source, else the user-wide cache).
Functions of other packages are left to Numba's locators. Should that list not be
found (another Numba version), Numba's per-file stamps apply.
"""

import hashlib
import os

from numba.core import caching

_DIR = os.path.dirname(os.path.abspath(__file__))


def sources_hash(directory):
    """SHA-256 of the ``*.py`` files in ``directory`` (names and contents, by name)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            with open(os.path.join(directory, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.digest()


#: The stamp of every kernel: :func:`sources_hash` of this package.
STAMP = sources_hash(_DIR)


def _stamped(base):
    """``base`` for files of this package, with :data:`STAMP` as their source stamp."""

    class Locator(base):
        def get_source_stamp(self):
            return STAMP

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _DIR:
                return None
            return super().from_function(py_func, py_file)

    Locator.__name__ = Locator.__qualname__ = "Kernels" + base.__name__.lstrip("_")
    return Locator


def _install():
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    bases = [getattr(caching, name, None) or getattr(caching, "_" + name, None)
             for name in ("UserProvidedCacheLocator", "InTreeCacheLocator",
                          "UserWideCacheLocator")]
    if not isinstance(classes, list) or None in bases:
        return
    classes[:0] = [_stamped(base) for base in bases]


_install()
