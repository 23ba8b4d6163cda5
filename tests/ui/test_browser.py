"""The editor in a real browser (headless Chromium driven by Playwright): the page loads with
no request leaving the server, two photos upload, a brush stroke changes the live result and
the saved mask, fill and undo, a full run (random VGG weights, 64 px) completes and its result
downloads. Screenshots and the measured times (start-up; paint -> live result at 512 px) are
written to ``$PHOTOSTYLE_TEST_ARTIFACTS`` if set, else to a pytest temporary folder.

Skipped where Chromium (Debian's ``chromium``) or Playwright for Python is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the editor's extra is not installed: "
                                        "pip install 'photostyle[ui]'")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright for Python is not installed: "
                                      "pip install playwright")

from segment import color_mask_image, load_color_mask  # noqa: E402

from ..synthetic import scene_pair, write_png  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("photostyle_ui_bench", ROOT / "benchmarks" / "ui.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)

if bench.chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

GREY, RED, BLUE = (128, 128, 128), (255, 0, 0), (0, 0, 255)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("PHOTOSTYLE_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("ui_artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def measured(artifacts):
    """Figures the tests measure, written to ``ui_timings.json`` at the end."""
    figures: dict = {}
    yield figures
    (artifacts / "ui_timings.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nphotostyle ui figures ({artifacts / 'ui_timings.json'}): {figures}")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = bench.launch(playwright, bench.chromium_path())
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ui_browser")
    content, style, _, _ = scene_pair()
    big = lambda a: np.kron(a, np.ones((2, 2, 1)))  # noqa: E731  128x160 and 144x128
    return {"content": write_png(root / "content.png", big(content)),
            "style": write_png(root / "style.png", big(style)),
            "outputs": root / "outputs"}


@pytest.fixture(scope="module")
def server(browser, folders, measured, tmp_path_factory):
    """A fresh ``photostyle ui`` process; its start-up measured up to the page being ready.
    Stopped (SIGTERM), it leaves no temporary folder behind."""
    tmp = tmp_path_factory.mktemp("server_tmp")
    with bench.Server("--outputs", str(folders["outputs"]), env={"TMPDIR": str(tmp)}) as server:
        page = bench.Editor(browser, server.url)
        measured["startup_listening_s"] = round(server.listening_s, 3)
        measured["startup_page_ready_s"] = round(time.perf_counter() - server.started, 3)
        page.close()
        assert [p.name for p in tmp.iterdir()][0].startswith("photostyle-ui-uploads-")
        yield server
    assert not any(tmp.iterdir()), list(tmp.iterdir())


@pytest.fixture(scope="module")
def editor(browser, server):
    page = bench.Editor(browser, server.url)
    yield page
    page.close()


def session_folder(folders) -> Path:
    found = list(folders["outputs"].glob("session-*"))
    assert len(found) >= 1
    return max(found, key=lambda p: p.stat().st_mtime)


def save_masks(editor, folders) -> tuple[np.ndarray, np.ndarray]:
    """Click "save masks", wait for the links, and read both files as written."""
    editor.page.evaluate("document.querySelector('#mask-links').textContent = ''")
    editor.page.click("#save-masks")
    editor.page.wait_for_selector("#mask-links a[download='style_mask.png']")
    folder = session_folder(folders)
    return (np.asarray(Image.open(folder / "content_mask.png").convert("RGB")),
            np.asarray(Image.open(folder / "style_mask.png").convert("RGB")))


def colours(mask: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in c) for c in np.unique(mask.reshape(-1, 3), axis=0)}


def test_the_page_loads_with_nothing_from_the_network(editor, server):
    assert editor.page.title().startswith("photostyle")
    assert editor.page.is_visible("#palette button[data-color='lightblue']")
    assert len(editor.page.query_selector_all("#palette button")) == 9
    outside = [u for u in editor.requests
               if not u.startswith(server.url) and not u.startswith(("data:", "blob:"))]
    assert not outside, outside
    assert not editor.errors, editor.errors


def test_two_photos_upload_and_the_live_result_appears(editor, folders, artifacts):
    editor.load_pair(folders["content"], folders["style"])
    assert "content.png · 160×128" in editor.page.text_content(editor.panel("content") + " h2")
    assert "style.png · 128×144" in editor.page.text_content(editor.panel("style") + " h2")
    size = editor.page.evaluate("[document.querySelector('#live').naturalWidth, "
                                "document.querySelector('#live').naturalHeight]")
    assert size == [160, 128]
    assert "one region" in editor.page.text_content("#legend")
    editor.page.screenshot(path=str(artifacts / "ui_loaded.png"), full_page=True)
    assert not editor.errors, editor.errors


def test_a_brush_stroke_changes_the_live_result_and_the_saved_mask(editor, folders, artifacts):
    content_before, style_before = save_masks(editor, folders)
    assert colours(content_before) == {GREY} and colours(style_before) == {GREY}
    live_before = editor.page.get_attribute("#live", "src")
    count = editor.live_count()
    editor.choose(color="red", tool="brush")
    editor.stroke("content", (0.2, 0.5), (0.8, 0.5))
    editor.wait_live(count + 1)
    assert editor.page.get_attribute("#live", "src") != live_before
    legend = editor.page.text_content("#legend")
    assert "red" in legend and "only in the content" in legend
    content_after, style_after = save_masks(editor, folders)
    assert colours(content_after) == {GREY, RED}
    assert tuple(content_after[64, 80]) == RED and tuple(content_after[5, 5]) == GREY
    assert (content_after == RED).all(axis=2).sum() > 160 * 10  # the 24-px brush, 60% across
    np.testing.assert_array_equal(style_after, style_before)
    # The command line reads the saved file unchanged.
    parsed = load_color_mask(session_folder(folders) / "content_mask.png", (128, 160))
    np.testing.assert_array_equal(color_mask_image(parsed.labels, parsed.colors), content_after)
    editor.page.screenshot(path=str(artifacts / "ui_stroke.png"), full_page=True)


def test_fill_and_undo(editor, folders):
    count = editor.live_count()
    editor.choose(color="blue", tool="fill")
    editor.page.fill("#fill-tolerance", "255")
    editor.page.dispatch_event("#fill-tolerance", "input")
    editor.click("style", (0.5, 0.5))
    editor.wait_live(count + 1)
    _, style = save_masks(editor, folders)
    assert colours(style) == {BLUE}  # the one grey region, all of it
    count = editor.live_count()
    editor.page.click("#undo")
    editor.wait_live(count + 1)
    _, style = save_masks(editor, folders)
    assert colours(style) == {GREY}
    editor.choose(tool="brush")


def test_a_full_run_completes_and_its_result_downloads(editor, artifacts):
    form = "#run-form "
    editor.page.fill(form + "[name=size]", "64")
    editor.page.select_option(form + "[name=weights]", "random")
    editor.page.select_option(form + "[name=quality]", "draft")
    editor.page.fill(form + "[name=iters]", "2,2")
    editor.page.click("#run")
    editor.page.wait_for_function("['done', 'cancelled', 'failed'].includes("
                                  "window.photostyle.runState)", timeout=180_000)
    status = editor.page.text_content("#run-status")
    assert status.startswith("done"), status
    editor.page.screenshot(path=str(artifacts / "ui_run.png"), full_page=True)
    with editor.page.expect_download() as download:
        editor.page.click("#downloads a[download='result.png']")
    result = artifacts / "ui_result.png"
    download.value.save_as(result)
    assert Image.open(result).size == (64, 51)
    with editor.page.expect_download() as download:
        editor.page.click("#downloads a[download='report.json']")
    report = json.loads(Path(download.value.path()).read_text())
    assert report["state"] == "done" and report["config"]["vgg_weights"] == "random"
    assert set(report["metrics"]) >= {"photorealism", "structure", "style_distance"}
    assert not editor.errors, editor.errors


def test_paint_to_live_result_at_512_px(browser, server, measured):
    """The round trip the issue sets a target for, on the example pair (512 px) with its
    masks; recorded, not asserted (benchmarks/ui.py measures more strokes)."""
    data = ROOT / "data"
    page = bench.Editor(browser, server.url)
    try:
        page.load_pair(data / "rocket_content.png", data / "rocket_style.png",
                       masks=(data / "rocket_content_mask.png", data / "rocket_style_mask.png"))
        rows = bench.roundtrips(page, 3)
    finally:
        page.close()
    assert all(r["server"]["live"] > 0 for r in rows)
    measured["roundtrip_512_ms"] = [round(r["ms"], 1) for r in rows]
    measured["roundtrip_512_server_ms"] = [round(1000 * r["server"]["total"], 1) for r in rows]
