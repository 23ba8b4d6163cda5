"""The editor's web server: a small Starlette app served by uvicorn, the page and its JSON API.

The page (``static/``: one HTML file, one script, one style sheet, no framework, nothing from
a CDN) paints label maps on canvases and talks to the API below. Every API route is under
``/api/<session>/``; the session id is written into the page when it is served, is
unguessable, and is what a request must know to act, so another web site open in the same
browser cannot drive the editor (it cannot read the page) -- together with the ``Host`` check
(against DNS rebinding), a strict Content-Security-Policy and ``Referrer-Policy: no-referrer``.

Heavy work (decoding, parsing masks, the live result, saving) runs in the thread pool; the full
method runs in its own thread (:mod:`photostyle.ui.runner`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from segment import MaskError

from ..config import PRESETS, QUALITY, Config
from ..errors import InputError, PhotostyleError
from . import files
from .runner import OUTPUT_FILES, RunOptions
from .session import MASK_FILES, MASK_METHODS, ROLES, Busy, Session, Sessions
from .settings import LOOPBACK_NAMES, UiSettings

__all__ = ["STATIC", "create_app", "open_socket", "serve"]

#: The page's files, shipped in the package.
STATIC = Path(__file__).resolve().parent / "static"

#: Files the page may download, by name (never a path).
DOWNLOADS = frozenset({*MASK_FILES.values(), *OUTPUT_FILES})

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

#: Largest JSON request, beyond the masks it carries (bytes).
_JSON_SLACK = 1 << 20


class _TooLarge(InputError):
    """A request body above its limit (HTTP 413)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"{what} is {int(declared) / 2**20:.1f} MiB, above the editor's limit of "
                        f"{limit / 2**20:g} MiB; downscale it, or start 'photostyle ui "
                        "--max-upload-mb N'")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _TooLarge(f"{what} is above the editor's limit of {limit / 2**20:g} MiB; "
                            "downscale it, or start 'photostyle ui --max-upload-mb N'")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request, limit: int) -> Any:
    data = await _body(request, limit, "the request")
    try:
        return json.loads(data or b"{}")
    except ValueError as exc:
        raise InputError(f"malformed JSON request ({exc})") from None


class _Api:
    """The API's handlers over one :class:`Sessions` store."""

    def __init__(self, settings: UiSettings, outputs: Path, scratch: Path) -> None:
        self.settings = settings
        self.sessions = Sessions(settings, outputs)
        self.scratch = scratch
        side = settings.mask_side
        self.json_limit = 2 * (4 * side * side // 3 + 4) + _JSON_SLACK

    # -- plumbing ---------------------------------------------------------------------------

    def route(self, handler: Callable[[Request, Session], Awaitable[Response]]
              ) -> Callable[[Request], Awaitable[Response]]:
        """``handler(request, session)`` as a route: unknown sessions and user errors become
        JSON errors."""

        async def endpoint(request: Request) -> Response:
            session = self.sessions.get(request.path_params["sid"])
            if session is None:
                return _error(404, "this editor session has ended (the server was restarted or "
                                   "dropped it); reload the page")
            try:
                return await handler(request, session)
            except _TooLarge as exc:
                return _error(413, str(exc))
            except Busy as exc:
                return _error(409, str(exc))
            except (PhotostyleError, MaskError) as exc:
                return _error(400, str(exc))

        return endpoint

    @staticmethod
    def _role(request: Request) -> str:
        role = request.path_params["role"]
        if role not in ROLES:
            raise InputError(f"unknown photo {role!r}; expected content or style")
        return role

    # -- page -------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        session = self.sessions.create()
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{SESSION}}", session.sid))

    async def info(self, request: Request, session: Session) -> Response:
        default = Config()
        return JSONResponse({
            "inputs": self.settings.inputs is not None,
            "files": await run_in_threadpool(files.list_images, self.settings.inputs),
            "max_upload_mb": self.settings.max_upload_mb,
            "mask_methods": list(MASK_METHODS),
            "qualities": list(QUALITY), "quality": default.quality, "size": default.size,
            "work_side": self.settings.work_side,
            "lambda": PRESETS["paper"]["matting_weight"],
            "photos": {role: session.photos[role].info() for role in ROLES
                       if role in session.photos},
        })

    # -- photos -----------------------------------------------------------------------------

    async def upload_photo(self, request: Request, session: Session) -> Response:
        role = self._role(request)
        name = files.display_name(unquote(request.headers.get("x-filename", "")), f"{role} upload")
        data = await _body(request, self.settings.max_upload_bytes, name)

        def load() -> dict[str, Any]:
            image, messages = session.catcher.call(
                files.read_photo_bytes, data, name, self.scratch,
                max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_pixels)
            return {**session.set_photo(role, image, name), "warnings": messages}

        return JSONResponse(await run_in_threadpool(load))

    async def open_photo(self, request: Request, session: Session) -> Response:
        role = self._role(request)
        relative = str((await _json(request, _JSON_SLACK)).get("path", ""))
        path = files.resolve_inside(self.settings.inputs, relative)

        def load() -> dict[str, Any]:
            image, messages = session.catcher.call(
                files.read_photo_file, path, relative, max_pixels=self.settings.max_pixels)
            return {**session.set_photo(role, image, relative), "warnings": messages}

        return JSONResponse(await run_in_threadpool(load))

    async def photo_image(self, request: Request, session: Session) -> Response:
        photo = session.photo(self._role(request))
        return Response(photo.display, media_type="image/jpeg")

    # -- masks ------------------------------------------------------------------------------

    async def auto_masks(self, request: Request, session: Session) -> Response:
        data = await _json(request, _JSON_SLACK)
        method = str(data.get("method", "cluster"))
        k = data.get("k")
        try:
            k = None if k in (None, "") else int(k)
        except (TypeError, ValueError):
            raise InputError(f"k {k!r} must be a whole number") from None
        return JSONResponse(await run_in_threadpool(session.automatic, method, k))

    async def upload_mask(self, request: Request, session: Session) -> Response:
        role = self._role(request)
        name = files.display_name(unquote(request.headers.get("x-filename", "")),
                                  f"{role} mask upload")
        data = await _body(request, self.settings.max_upload_bytes, name)
        photo = session.photo(role)

        def load() -> dict[str, Any]:
            parsed, messages = session.catcher.call(
                files.read_mask_bytes, data, name, self.scratch, photo.size,
                max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_pixels)
            result = session.load_mask(role, parsed)
            return {**result, "warnings": messages}

        return JSONResponse(await run_in_threadpool(load))

    async def open_mask(self, request: Request, session: Session) -> Response:
        role = self._role(request)
        relative = str((await _json(request, _JSON_SLACK)).get("path", ""))
        path = files.resolve_inside(self.settings.inputs, relative)
        photo = session.photo(role)

        def load() -> dict[str, Any]:
            parsed, messages = session.catcher.call(
                files.read_mask_file, path, relative, photo.size,
                max_pixels=self.settings.max_pixels)
            return {**session.load_mask(role, parsed), "warnings": messages}

        return JSONResponse(await run_in_threadpool(load))

    async def live(self, request: Request, session: Session) -> Response:
        data = await _json(request, self.json_limit)
        return JSONResponse(await run_in_threadpool(session.live, data))

    async def save_masks(self, request: Request, session: Session) -> Response:
        return JSONResponse(await run_in_threadpool(session.save_masks))

    # -- the full method --------------------------------------------------------------------

    async def start_run(self, request: Request, session: Session) -> Response:
        options = RunOptions.from_json(await _json(request, _JSON_SLACK),
                                       self.settings.work_side)
        return JSONResponse(await run_in_threadpool(session.start_run, options,
                                                    self.sessions.run_slots))

    async def run_status(self, request: Request, session: Session) -> Response:
        if session.run is None:
            return JSONResponse({"state": "idle", "message": "no run yet"})
        return JSONResponse(session.run.status())

    async def run_image(self, request: Request, session: Session) -> Response:
        data = None if session.run is None else session.run.image()
        if data is None:
            return _error(404, "no image yet")
        return Response(data, media_type="image/jpeg")

    async def cancel_run(self, request: Request, session: Session) -> Response:
        if session.run is None or not session.run.active:
            return JSONResponse({"state": "idle", "message": "nothing is running"})
        session.run.cancel()
        return JSONResponse(session.run.status())

    async def download(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        if name not in DOWNLOADS:
            raise InputError(f"{name!r} is not a file the editor writes; downloads are "
                             f"{', '.join(sorted(DOWNLOADS))}")
        path = session.folder / name
        if not path.is_file():
            return _error(404, f"{name} has not been written yet")
        return FileResponse(path, filename=name)


class _Headers(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        for key, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def create_app(settings: UiSettings, outputs: Path, scratch: Path, *,
               remove_scratch: bool = False) -> Starlette:
    """The editor's ASGI app.

    Parameters
    ----------
    settings : UiSettings
        Limits and folders.
    outputs : Path
        Existing folder the sessions write into (one sub-folder each).
    scratch : Path
        Existing private folder for uploads while they are decoded.
    remove_scratch : bool
        Remove ``scratch`` when the app shuts down.
    """
    api = _Api(settings, outputs, scratch)
    r = api.route
    base = "/api/{sid:str}"
    routes = [
        Route("/", api.page),
        Route(base + "/info", r(api.info)),
        Route(base + "/photo/{role:str}", r(api.upload_photo), methods=["POST"]),
        Route(base + "/photo/{role:str}/open", r(api.open_photo), methods=["POST"]),
        Route(base + "/photo/{role:str}/image.jpg", r(api.photo_image)),
        Route(base + "/masks/auto", r(api.auto_masks), methods=["POST"]),
        Route(base + "/mask/{role:str}", r(api.upload_mask), methods=["POST"]),
        Route(base + "/mask/{role:str}/open", r(api.open_mask), methods=["POST"]),
        Route(base + "/live", r(api.live), methods=["POST"]),
        Route(base + "/masks/save", r(api.save_masks), methods=["POST"]),
        Route(base + "/run", r(api.start_run), methods=["POST"]),
        Route(base + "/run", r(api.run_status), methods=["GET"]),
        Route(base + "/run/image.jpg", r(api.run_image)),
        Route(base + "/run/cancel", r(api.cancel_run), methods=["POST"]),
        Route(base + "/download/{name:str}", r(api.download)),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    hosts = [*LOOPBACK_NAMES, "[::1]", settings.host] if settings.loopback else ["*"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Here, not after the server returns: uvicorn ends the process on SIGTERM once the
        # app has shut down.
        await run_in_threadpool(api.sessions.close)
        if remove_scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    return Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts), Middleware(_Headers)])


def open_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises
    ------
    InputError
        The address cannot be bound (in use, or not an address of this machine).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InputError(f"--host {host}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another "
                         "--port, or 0 for a free one") from None
    return sock


def serve(settings: UiSettings, ready: Callable[[str, Path], None] | None = None) -> None:
    """Serve the editor until interrupted.

    ``ready(url, outputs)`` is called once the socket listens (the page can be loaded).
    """
    import uvicorn
    from threadpoolctl import threadpool_limits

    sock = open_socket(settings.host, settings.port)
    # The editor's numpy work is many small matrix products (colour statistics per region),
    # for which OpenBLAS threads cost more than they give: the live result at 512 px takes
    # 0.5-0.6 s with 2 threads on a busy 2-core machine, 0.16-0.3 s with one. Only the BLAS
    # libraries loaded now (numpy's, scipy's, OpenCV's) are limited; torch, loaded by the first
    # full run, keeps its own threads.
    blas = threadpool_limits(1, user_api="blas")
    outputs = settings.outputs or Path(tempfile.mkdtemp(prefix="photostyle-ui-"))
    outputs.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="photostyle-ui-uploads-"))
    try:
        app = create_app(settings, outputs, scratch, remove_scratch=True)
        port = sock.getsockname()[1]
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                               proxy_headers=False, server_header=False,
                                               lifespan="on", timeout_graceful_shutdown=5))
        if ready is not None:
            ready(f"http://{shown}:{port}/", outputs)
        server.run(sockets=[sock])
    finally:
        sock.close()
        shutil.rmtree(scratch, ignore_errors=True)
        blas.restore_original_limits()
