"""index.html and the run pages in a real browser: Debian's chromium,
headless, driven over the DevTools protocol. One row per run, sorting works,
every image loads (the probe figures and images of a run page too), and no
request leaves the file system."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from histkit.render.report import build_report
from test_report import history_name, probe_study, write_history

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is missing (apt-get install chromium)")
websocket = pytest.importorskip("websocket", reason="websocket-client is in the [dev] extra")


class Browser:
    """A headless chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self, profile: Path):
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-default-apps",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = self._port()
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def _port(self) -> int:
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                return int(m.group(1))
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError("chromium did not start its DevTools server")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    def open(self, url: str, timeout: float = 30) -> None:
        """Load ``url`` and wait for its load event (not an earlier page's)."""
        mark = len(self.events)
        self.call("Page.navigate", url=url)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(m.get("method") == "Page.loadEventFired" for m in self.events[mark:]):
                return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(f"{url} did not load")

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def close(self):
        with_suppress = (OSError, websocket.WebSocketException)
        try:
            self.ws.close()
        except with_suppress:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def report(tmp_path) -> Path:
    grid = [(False, 0, "AdaDelta"), (False, 20, "Adam"), (True, 0, "Adam"),
            (True, 20, "AdaDelta"), (True, 40, "AdaDelta")]
    for i, (att, dr, opt) in enumerate(grid):
        write_history(tmp_path, history_name(att, dr, opt), rate=2 + 1.5 * i)
    write_history(tmp_path, history_name(extra="_<img src=x onerror=alert(1)>"))
    rep = build_report(tmp_path / "run", tmp_path / "out", jobs=1, dpi=40,
                       labels={"loss": "Loss", "sdice": "Dice"}, command="histkit report run")
    assert not rep.problems
    return rep.index


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def column(browser: Browser, key: str) -> list[str]:
    return browser.js(f"""(() => {{
        const i = [...document.querySelectorAll('#runs thead th')]
                    .findIndex(th => th.dataset.key === {json.dumps(key)});
        return [...document.querySelectorAll('#runs tbody tr')]
                 .map(tr => tr.cells[i].getAttribute('data-v'));
    }})()""")


def test_report_in_chromium(report, browser, tmp_path):
    browser.call("Network.enable")
    browser.call("Page.enable")
    browser.open(report.as_uri())

    # one row per run, and the hostile run name stayed text
    assert browser.js("document.querySelectorAll('#runs tbody tr').length") == 6
    assert browser.js("document.querySelectorAll('#runs tbody img').length") == 6
    assert browser.js("document.querySelectorAll('img[src=x]').length") == 0

    # every image has loaded (thumbnails and comparison figures)
    sizes = browser.js("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(sizes) == 6 + 3 and all(w > 0 for _, w in sizes), sizes
    assert browser.js("document.body.dataset.brokenImages") == "0"

    # sorting: numbers ascending, then descending on a second click; text too
    click = "document.querySelector('#runs th[data-key=\"{}\"] button').click()"
    browser.js(click.format("best_val_loss"))
    values = [float(v) for v in column(browser, "best_val_loss")]
    assert values == sorted(values) and len(set(values)) > 1
    browser.js(click.format("best_val_loss"))
    assert [float(v) for v in column(browser, "best_val_loss")] == sorted(values, reverse=True)
    assert browser.js("location.hash") == "#sort=-best_val_loss"
    browser.js(click.format("run"))
    names = column(browser, "run")
    assert names == sorted(names, key=str.lower)

    # filtering hides rows and counts them
    browser.js("""(() => { const f = document.getElementById('filter');
                   f.value = 'Adam'; f.dispatchEvent(new Event('input')); })()""")
    assert browser.js("document.getElementById('shown').textContent") == "2"

    # a view in the URL fragment is restored on load
    browser.open("about:blank")
    browser.open(report.as_uri() + "#sort=-dropout")
    dropouts = [float(v) for v in column(browser, "dropout")]
    assert dropouts == sorted(dropouts, reverse=True)

    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "report.png").write_bytes(shot)
    if os.environ.get("HISTKIT_SCREENSHOT"):
        shutil.copy(tmp_path / "report.png", os.environ["HISTKIT_SCREENSHOT"])
    assert shot.startswith(b"\x89PNG")

    # nothing was asked of the network
    urls = [e["params"]["request"]["url"] for e in browser.events
            if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith("file://") for u in urls), urls


PAGE_SECTIONS = ["history", "telemetry", "settings", "stops", "diagnosis"]
PROBE_SECTIONS = ["probes", "probe-norms", "probe-histograms", "probe-activations",
                  "probe-shares", "probe-images"]


def test_run_pages_in_chromium(browser, tmp_path):
    trained, plain = probe_study(tmp_path)
    rep = build_report(tmp_path / "run", tmp_path / "out", jobs=1, dpi=50,
                       labels={"loss": "Loss", "sdice": "Dice"})
    assert rep.ok, rep.problems
    browser.call("Network.enable")
    browser.call("Page.enable")

    # from the index, the run's name leads to its page
    browser.open(rep.index.as_uri())
    links = browser.js("[...document.querySelectorAll('#runs td.name a.page')]"
                       ".map(a => [a.textContent, a.href])")
    assert sorted(name for name, _ in links) == sorted([trained.stem, plain.stem])
    page = dict(links)[trained.stem]
    assert page.startswith(rep.index.parent.as_uri() + "/runs/") and page.endswith(".html")
    browser.open(page)

    # every section, every figure and probe image loaded
    ids = browser.js("[...document.querySelectorAll('section[id], article[id]')].map(e => e.id)")
    assert ids == PAGE_SECTIONS + PROBE_SECTIONS
    sizes = browser.js("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert all(w > 0 for _, w in sizes), sizes
    srcs = [src for src, _ in sizes]
    for kind in ("norms", "histograms", "activations", "shares"):
        assert sum(src.endswith(f".{kind}.png") for src in srcs) == 1, kind
    assert sum("/0002_" in src for src in srcs) == 7  # predictions, 3 activations, 3 gradients
    assert browser.js("document.body.dataset.brokenImages") == "0"
    assert browser.js("document.title").startswith(trained.stem)
    # the figures are drawn at a readable size, not squeezed
    width = browser.js("document.querySelector('#probe-histograms img')"
                       ".getBoundingClientRect().width")
    assert width > 400

    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png",
                                         captureBeyondViewport=True)["data"])
    assert shot.startswith(b"\x89PNG")
    if os.environ.get("HISTKIT_PAGE_SCREENSHOT"):
        Path(os.environ["HISTKIT_PAGE_SCREENSHOT"]).write_bytes(shot)

    # a way back to the index; the page of the run without probes
    assert browser.js("document.querySelector('.up a').href") == rep.index.as_uri()
    browser.open(dict(links)[plain.stem])
    ids = browser.js("[...document.querySelectorAll('section[id], article[id]')].map(e => e.id)")
    assert ids == PAGE_SECTIONS
    assert browser.js("document.querySelectorAll('img[src=x]').length") == 0
    assert browser.js("document.querySelector('h1').textContent") == plain.stem
    assert browser.js("[...document.images].every(i => i.naturalWidth > 0)")

    urls = [e["params"]["request"]["url"] for e in browser.events
            if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith("file://") for u in urls), urls
