"""The report's ``manifest.json``: per run figure, run page and comparison
figure, a content digest and the files it wrote.

A rebuild reads the old manifest to tell what is fresh (same digest, files
all there) and what must be drawn again, writes the new one last, and then
deletes the files that only the old one listed (runs that are gone). The
digests of what a page reads besides its history are here too: its probes
and the page code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path

from ... import __version__
from ...files import write_atomic

__all__ = ["MANIFEST", "PARTS", "load_manifest", "new_manifest", "is_fresh", "write_manifest",
           "remove_stale", "page_code", "probe_digest"]

MANIFEST = "manifest.json"
PARTS = ("runs", "pages", "comparisons")  # the manifest's sections, keyed by run path or field
_OURS = re.compile(r"(runs|compare)/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?")


def load_manifest(path: Path) -> dict:
    """The sections of an earlier build's manifest (empty when there is none
    or it cannot be read)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {part: dict(data.get(part) or {}) for part in PARTS}


def new_manifest() -> dict:
    """An empty manifest of this histkit."""
    return {"histkit": __version__, **{part: {} for part in PARTS}}


def is_fresh(out: Path, old: dict | None, new: dict) -> bool:
    """Whether an entry of the old manifest has the new one's digest and
    files, and the files are all there: then nothing is drawn again."""
    return (bool(old) and old.get("digest") == new["digest"]
            and old.get("files") == new["files"]
            and all((out / f).is_file() for f in new["files"]))


def write_manifest(out: Path, manifest: dict) -> None:
    """Write ``manifest.json`` atomically."""
    write_atomic(out / MANIFEST, json.dumps(manifest, indent=1).encode())


def remove_stale(out: Path, old: dict, new: dict) -> list[str]:
    """Delete the files the new manifest no longer lists; return the runs gone."""
    keep = {f for part in PARTS for e in new[part].values() for f in e["files"]}
    dirs = set()
    for part in PARTS:
        for entry in old[part].values():
            for f in entry.get("files", []):
                if f not in keep and _OURS.fullmatch(f) and ".." not in f.split("/"):
                    with contextlib.suppress(FileNotFoundError):
                        (out / f).unlink()
                    if f.count("/") == 2:
                        dirs.add(out / f.rsplit("/", 1)[0])
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()  # only when empty
    return sorted(set(old["runs"]) - set(new["runs"]))


def page_code() -> str:
    """A digest of what draws a run page besides its data: the template, the
    style sheet and the probe figures' code (a new histkit redraws pages)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in (here / "templates/run.html.j2", here / "templates/report.css",
              here.parent / "probe_plots.py"):
        with contextlib.suppress(OSError):
            h.update(f.read_bytes())
    return h.hexdigest()


def probe_digest(path: str) -> tuple[bool, str]:
    """Whether the history has probes beside it, and a content digest of them."""
    from ...probes import has_probes, probes_dir

    if not path.endswith(".csv"):
        return False, ""
    if not has_probes(path):  # os.path.isdir: a name too long to exist is no probes
        return False, ""
    folder = probes_dir(path)
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            h.update(str(f.relative_to(folder)).encode() + b"\0")
            with contextlib.suppress(OSError):
                h.update(hashlib.sha256(f.read_bytes()).digest())
    return True, h.hexdigest()
