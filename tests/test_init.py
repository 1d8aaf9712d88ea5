"""histkit/__init__.py: the public API, imported lazily."""

from __future__ import annotations

import subprocess
import sys
import types


def test_every_public_name_stays_what_it_is_after_every_module_is_imported():
    """Importing a submodule binds its name on the package: no public function
    may share a module's name (``histkit.diagnose`` once became a module
    after a report was built)."""
    code = """
import importlib, pkgutil, types, histkit
for m in pkgutil.iter_modules(histkit.__path__):
    if m.name not in ("__main__", "train", "rbridge"):
        importlib.import_module("histkit." + m.name)
bad = [n for n in histkit.__all__ if isinstance(getattr(histkit, n), types.ModuleType)]
print(",".join(bad) or "ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ok"


def test_the_api_is_lazy_and_complete():
    out = subprocess.run([sys.executable, "-c", "import sys, histkit; "
                          "print('polars' in sys.modules, len(histkit.__all__))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"
    import histkit

    for name in histkit.__all__:
        assert not isinstance(getattr(histkit, name), types.ModuleType), name
    assert callable(histkit.diagnose) and callable(histkit.read_probes)
