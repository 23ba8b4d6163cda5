"""The editor's server over HTTP (a real uvicorn on a free port): the page and its headers, the
host check, upload limits, paths outside the chosen folders, the mask round trip, and one run
at a time with cancel."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the editor's extra is not installed: "
                                        "pip install 'photostyle[ui]'")
uvicorn = pytest.importorskip("uvicorn")

from photostyle.ui.app import create_app, open_socket  # noqa: E402
from photostyle.ui.settings import UiSettings  # noqa: E402
from segment import load_color_mask  # noqa: E402

from ..synthetic import color_mask, scene_pair, write_png  # noqa: E402


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body=None, headers=None, status: int = 200) -> dict:
        code, _, data = self.request(method, path, body, headers)
        assert code == status, (code, data[:500])
        return json.loads(data)

    def session(self) -> str:
        _, _, page = self.request("GET", "/")
        text = page.decode()
        start = text.index('name="photostyle-session" content="') + 35
        return text[start:text.index('"', start)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ui_app")
    inputs, outputs, scratch = root / "inputs", root / "outputs", root / "scratch"
    for folder in (inputs, outputs, scratch):
        folder.mkdir()
    content, style, c_labels, s_labels = scene_pair()
    write_png(inputs / "content.png", content)
    write_png(inputs / "style.png", style)
    write_png(inputs / "content_mask.png", color_mask(c_labels))
    write_png(root / "secret.png", content)
    return {"root": root, "inputs": inputs, "outputs": outputs, "scratch": scratch}


@pytest.fixture(scope="module")
def client(folders):
    settings = UiSettings(port=0, inputs=folders["inputs"], outputs=folders["outputs"],
                          max_upload_mb=0.25)
    app = create_app(settings, folders["outputs"], folders["scratch"])
    sock = open_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield Client(sock.getsockname()[1])
    server.should_exit = True
    thread.join(timeout=30)


def test_the_page_is_served_with_a_strict_policy(client):
    code, headers, page = client.request("GET", "/")
    assert code == 200 and b'<canvas class="mask">' in page
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert client.request("GET", "/static/editor.js")[0] == 200
    assert client.request("GET", "/static/../app.py")[0] == 404
    assert client.request("GET", "/static/%2e%2e/app.py")[0] == 404


def test_a_foreign_host_name_is_refused(client):
    # DNS rebinding: a web page served as evil.example resolving to 127.0.0.1.
    assert client.request("GET", "/", headers={"Host": "evil.example"})[0] == 400


def test_an_unknown_session_is_told_to_reload(client):
    data = client.json("GET", "/api/nobody/info", status=404)
    assert "reload the page" in data["error"]


def test_uploads_are_limited_and_checked(client, folders):
    sid = client.session()
    big = client.json("POST", f"/api/{sid}/photo/content", b"\0" * 300_000,
                      {"X-Filename": "huge.png"}, status=413)
    assert "huge.png" in big["error"] and "0.25 MiB" in big["error"]
    junk = client.json("POST", f"/api/{sid}/photo/content", b"hello, not a picture",
                       {"X-Filename": "..%2F..%2Fnotes.png"}, status=400)
    assert junk["error"].startswith("notes.png is not an image")
    role = client.json("POST", f"/api/{sid}/photo/sky", b"", status=400)
    assert "unknown photo" in role["error"]
    ok = client.json("POST", f"/api/{sid}/photo/content",
                     (folders["inputs"] / "content.png").read_bytes(), {"X-Filename": "c.png"})
    assert (ok["width"], ok["height"], ok["name"]) == (80, 64, "c.png")


@pytest.mark.parametrize("path", ["../secret.png", str(Path("/etc/passwd")),
                                  "x/../../secret.png"])
def test_paths_outside_the_input_folder_are_refused(client, path):
    sid = client.session()
    for route in ("photo/content/open", "mask/content/open"):
        data = client.json("POST", f"/api/{sid}/{route}", {"path": path}, status=400)
        assert "input folder" in data["error"] or "load a content photo" in data["error"]


@pytest.mark.parametrize("name", ["..%2F..%2Fsecret.png", "secret.png", "..%2Fcontent.png"])
def test_downloads_are_only_the_editor_files(client, name):
    sid = client.session()
    code, _, data = client.request("GET", f"/api/{sid}/download/{name}")
    assert code in (400, 404) and b"PNG" not in data


def test_masks_round_trip_through_the_editor(client, folders):
    sid = client.session()
    for role in ("content", "style"):
        client.json("POST", f"/api/{sid}/photo/{role}/open", {"path": f"{role}.png"})
    files = client.json("GET", f"/api/{sid}/info")["files"]
    assert files == ["content.png", "content_mask.png", "style.png"]
    loaded = client.json("POST", f"/api/{sid}/mask/content/open", {"path": "content_mask.png"})
    masks = loaded["masks"]
    assert masks["style"] is None and len(masks["content"]["colors"]) == 2
    live = client.json("POST", f"/api/{sid}/live", {"version": 7, "content": masks["content"]})
    assert live["version"] == 7 and live["image"].startswith("data:image/jpeg;base64,")
    assert {row["name"]: row["where"] for row in live["legend"]} == {
        "blue": "content", "green": "content", "grey": "style"}
    saved = client.json("POST", f"/api/{sid}/masks/save", {})
    assert saved["files"] == ["content_mask.png", "style_mask.png"]
    code, headers, data = client.request("GET", f"/api/{sid}/download/content_mask.png")
    assert code == 200 and "attachment" in headers["content-disposition"]
    out = folders["root"] / "downloaded.png"
    out.write_bytes(data)
    original = load_color_mask(folders["inputs"] / "content_mask.png", (64, 80))
    again = load_color_mask(out, (64, 80))
    assert again.colors == original.colors
    np.testing.assert_array_equal(again.labels, original.labels)


def test_one_full_run_at_a_time_and_cancel(client):
    sid = client.session()
    for role in ("content", "style"):
        client.json("POST", f"/api/{sid}/photo/{role}/open", {"path": f"{role}.png"})
    client.json("POST", f"/api/{sid}/masks/auto", {"method": "cluster", "k": 2})
    bad = client.json("POST", f"/api/{sid}/run", {"quality": "fast"}, status=400)
    assert "quality 'fast'" in bad["error"]
    options = {"quality": "default", "size": 64, "weights": "random"}
    started = client.json("POST", f"/api/{sid}/run", options)
    assert started["status"]["state"] in ("starting", "running")
    busy = client.json("POST", f"/api/{sid}/run", options, status=409)
    assert busy["error"].startswith("busy: a full run is already going in this session")
    other = client.session()
    for role in ("content", "style"):
        client.json("POST", f"/api/{other}/photo/{role}/open", {"path": f"{role}.png"})
    client.json("POST", f"/api/{other}/live", {})
    assert "another editor session" in client.json("POST", f"/api/{other}/run", options,
                                                   status=409)["error"]
    deadline = time.monotonic() + 120
    status = client.json("GET", f"/api/{sid}/run")
    while status["state"] != "running" or "step" not in status:
        assert status["state"] in ("starting", "running"), status
        assert time.monotonic() < deadline
        time.sleep(0.2)
        status = client.json("GET", f"/api/{sid}/run")
    client.json("POST", f"/api/{sid}/run/cancel", {})
    while status["state"] in ("starting", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        status = client.json("GET", f"/api/{sid}/run")
    assert status["state"] == "cancelled", status
    assert "best image so far" in status["message"]
    code, _, data = client.request("GET", f"/api/{sid}/download/result.png")
    assert code == 200 and data[:4] == b"\x89PNG"
    report = client.json("GET", f"/api/{sid}/download/report.json")
    assert report["state"] == "cancelled" and report["metrics"]["structure"] > 0
    assert client.request("GET", f"/api/{sid}/run/image.jpg")[0] == 200
