"""Speed of the browser editor: ``photostyle ui`` start-up and the paint -> live result round trip.

Usage::

    python benchmarks/ui.py [--strokes 10] [--runs 3] [--chromium /usr/bin/chromium]
                            [--json benchmarks/results/ui.json] [--screenshot docs/ui.png]

Needs headless Chromium (Debian's ``chromium``) and Playwright for Python (``pip install
playwright``; ``playwright install`` is not needed: the system Chromium is launched).

* **Start-up**: from launching ``python -m photostyle ui --port 0`` to the server printing its
  address (listening), and to the page loaded and ready in the browser (the browser itself is
  started before). Best of ``--runs`` fresh processes, and the median.
* **Paint -> live result**: on the example pair in ``data/`` (512 px wide) with its masks, a
  brush stroke on the content mask, from pointer-up to the live result for it decoded and shown
  (``performance.now()`` in the page), over ``--strokes`` strokes; the server's share
  (canonical masks + the weight-free method) from its answer.

Figures: ``benchmarks/RESULTS.md``. The helpers (server, browser, strokes) are used by the
browser tests (``tests/ui/test_browser.py``). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"

#: Headless Chromium with nothing of its own reaching the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """The system Chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


class Server:
    """``python -m photostyle ui --port 0`` in a subprocess of this checkout.

    Attributes
    ----------
    url : str
        The page's address.
    listening_s : float
        Seconds from the launch to the address printed (the socket listens).
    started : float
        ``time.perf_counter()`` at the launch.
    """

    def __init__(self, *args: str, timeout: float = 60.0, env: dict | None = None) -> None:
        env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "photostyle", "ui", "--port", "0", *args], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        found: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in self.proc.stderr:
                self.lines.append(line.rstrip())
                if " open http" in line:
                    found.put(line)

        threading.Thread(target=read, daemon=True).start()
        try:
            line = found.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError("photostyle ui did not start: " + " | ".join(self.lines)) from None
        self.listening_s = time.perf_counter() - self.started
        self.url = line.split(" open ", 1)[1].split()[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch(playwright: Any, executable: str) -> Any:
    """Headless Chromium (the system's, not Playwright's download)."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


class Editor:
    """The editor in a browser tab, with every request it makes recorded.

    ``bypass_csp`` lets Playwright's own polling scripts run; the page's policy still applies
    to what the page loads (the test checks its header separately).
    """

    def __init__(self, browser: Any, url: str, viewport: tuple[int, int] = (1500, 1000)) -> None:
        self.context = browser.new_context(viewport={"width": viewport[0],
                                                     "height": viewport[1]},
                                           bypass_csp=True, accept_downloads=True)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.goto(url)
        self.page.wait_for_function("window.photostyle && window.photostyle.ready")
        self.url = url

    def close(self) -> None:
        self.context.close()

    def panel(self, role: str) -> str:
        return f'.photo-panel[data-role="{role}"]'

    def live_count(self) -> int:
        return int(self.page.evaluate("window.photostyle.liveCount"))

    def wait_live(self, count: int, timeout: float = 60.0) -> None:
        """Wait until the page has shown ``count`` live results."""
        self.page.wait_for_function(f"window.photostyle.liveCount >= {count}",
                                    timeout=timeout * 1000)

    def upload(self, role: str, kind: str, path: Path) -> None:
        """Upload a photo or mask (``kind``) for ``role`` through the page's file input."""
        self.page.set_input_files(f'{self.panel(role)} input[data-load="{kind}"]', str(path))

    def load_pair(self, content: Path, style: Path, masks: tuple[Path, Path] | None = None
                  ) -> None:
        """Upload both photos (and masks) and wait for the live result of them."""
        count = self.live_count()
        self.upload("content", "photo", content)
        self.page.wait_for_selector(f'{self.panel("content")} .stage.loaded')
        self.upload("style", "photo", style)
        self.wait_live(count + 1)
        if masks is not None:
            for role, path in zip(("content", "style"), masks, strict=True):
                count = self.live_count()
                self.upload(role, "mask", path)
                self.wait_live(count + 1)

    def choose(self, color: str | None = None, tool: str | None = None) -> None:
        if color is not None:
            self.page.click(f'#palette button[data-color="{color}"]')
        if tool is not None:
            self.page.click(f'[data-tool="{tool}"]')

    def stroke(self, role: str, start: tuple[float, float], end: tuple[float, float],
               steps: int = 8) -> None:
        """Drag on ``role``'s mask from ``start`` to ``end`` (fractions of its width and
        height)."""
        box = self.page.locator(f"{self.panel(role)} canvas.mask").bounding_box()
        x0, y0 = box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"]
        x1, y1 = box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"]
        self.page.mouse.move(x0, y0)
        self.page.mouse.down()
        self.page.mouse.move(x1, y1, steps=steps)
        self.page.mouse.up()

    def click(self, role: str, at: tuple[float, float]) -> None:
        box = self.page.locator(f"{self.panel(role)} canvas.mask").bounding_box()
        self.page.mouse.click(box["x"] + at[0] * box["width"], box["y"] + at[1] * box["height"])

    def timings(self) -> list[dict]:
        return list(self.page.evaluate("window.photostyle.timings"))


def roundtrips(page: Editor, strokes: int) -> list[dict]:
    """``strokes`` brush strokes on the content mask, each waited for: its round trip (ms,
    pointer-up to the live result shown) and the server's share (s)."""
    colors = ("red", "yellow", "purple", "lightblue")
    rows = []
    for i in range(strokes):
        page.choose(color=colors[i % len(colors)], tool="brush")
        count = page.live_count()
        before = len(page.timings())
        y = 0.15 + 0.7 * (i % 8) / 8
        page.stroke("content", (0.2, y), (0.7, y + 0.05))
        page.wait_live(count + 1)
        page.page.wait_for_function(f"window.photostyle.timings.length > {before}")
        rows.append(page.timings()[-1])
    return rows


def screenshot(browser: Any, url: str, path: Path) -> None:
    """The editor with the example pair and its masks, the live result half compared with the
    content, and a full run (random weights, 256 px) under way."""
    page = Editor(browser, url, viewport=(1500, 930))
    page.load_pair(DATA / "rocket_content.png", DATA / "rocket_style.png",
                   masks=(DATA / "rocket_content_mask.png", DATA / "rocket_style_mask.png"))
    page.page.fill("#compare", "62")
    page.page.dispatch_event("#compare", "input")
    page.page.select_option("#run-form [name=weights]", "random")
    page.page.select_option("#run-form [name=quality]", "draft")
    page.page.fill("#run-form [name=size]", "256")
    page.page.click("#run")
    page.page.wait_for_function("window.photostyle.runState === 'running'", timeout=120_000)
    page.page.wait_for_function("document.querySelector('#run-image').complete && "
                                "document.querySelector('#run-image').naturalWidth > 0 && "
                                "/step ([2-9]|\\d\\d)/.test("
                                "document.querySelector('#run-status').textContent)",
                                timeout=120_000)
    page.page.screenshot(path=str(path), full_page=True)
    page.page.click("#cancel")
    page.page.wait_for_function("['done', 'cancelled', 'failed'].includes("
                                "window.photostyle.runState)", timeout=120_000)
    page.close()


def _stats(values: list[float], digits: int) -> dict[str, float]:
    return {"best": round(min(values), digits),
            "median": round(statistics.median(values), digits),
            "worst": round(max(values), digits)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--strokes", type=int, default=10)
    p.add_argument("--runs", type=int, default=3, help="fresh servers for the start-up time")
    p.add_argument("--chromium", default=None, help="Chromium executable (default: the system's)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "ui.json")
    p.add_argument("--screenshot", type=Path, default=None,
                   help="also save a screenshot of the editor with the example pair (README)")
    args = p.parse_args(argv)
    executable = args.chromium or chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed (pip install playwright); nothing measured")
        return 1
    if executable is None:
        print("no Chromium found (apt-get install chromium); nothing measured")
        return 1
    load = os.getloadavg()
    pair = (DATA / "rocket_content.png", DATA / "rocket_style.png")
    masks = (DATA / "rocket_content_mask.png", DATA / "rocket_style_mask.png")
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as out:
        browser = launch(playwright, executable)
        listen, ready = [], []
        for _ in range(args.runs):
            with Server("--outputs", out) as server:
                page = Editor(browser, server.url)
                ready.append(time.perf_counter() - server.started)
                listen.append(server.listening_s)
                page.close()
        with Server("--outputs", out) as server:
            page = Editor(browser, server.url)
            page.load_pair(*pair, masks=masks)
            rows = roundtrips(page, args.strokes)
            page.close()
            if args.screenshot is not None:
                screenshot(browser, server.url, args.screenshot)
        browser.close()
    trips = [r["ms"] for r in rows]
    server_ms = [1000 * r["server"]["total"] for r in rows]
    live_ms = [1000 * r["server"]["live"] for r in rows]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.machine()) \
        if Path("/proc/cpuinfo").is_file() else platform.machine()
    result = {
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "load_average_before": load,
                    "load_average_after": os.getloadavg(), "python": platform.python_version(),
                    "chromium": executable},
        "startup_listening_s": _stats(listen, 2), "startup_page_ready_s": _stats(ready, 2),
        "roundtrip_ms": _stats(trips, 1), "server_ms": _stats(server_ms, 1),
        "live_method_ms": _stats(live_ms, 1),
        "strokes": args.strokes, "runs": args.runs, "size": "512x342 content, 512x376 style",
    }
    print("| figure | best | median | worst |\n| --- | --- | --- | --- |")
    for key, unit in (("startup_listening_s", "s"), ("startup_page_ready_s", "s"),
                      ("roundtrip_ms", "ms"), ("server_ms", "ms"), ("live_method_ms", "ms")):
        row = result[key]
        print(f"| {key} | {row['best']} {unit} | {row['median']} {unit} | {row['worst']} {unit} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
