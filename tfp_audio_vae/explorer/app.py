"""The explorer's web app: a Starlette ASGI app serving one plain page (``static/``) and a small
JSON API over an `Explorer`, run by uvicorn. Needs the ``app`` extra
(``pip install 'tfp-audio-vae[app]'``).

Every endpoint answers JSON; a bad request gets status 400 (413 for an upload over
`session.MAX_UPLOAD_BYTES`) and ``{"error": one line}``, which the page shows as it is.

Before any route runs, `Guard` refuses (403, or 415 for a POST body of the wrong type) what did
not come from the page itself: a ``Host`` not on the allowlist (DNS rebinding), an ``Origin`` or
``Referer`` of another site, a POST that is not JSON (or the upload's octet stream), and, unless
served with ``--no-token``, a request without the explorer's token (``?token=`` on the page's URL,
then an HttpOnly, SameSite=Strict cookie, or the ``X-Explorer-Token`` header). See
docs/explore.md#security.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import sys
import threading
import webbrowser
from collections.abc import AsyncIterator, Callable, Iterable
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from tfp_audio_vae import defaults
from tfp_audio_vae.explorer.session import MAX_UPLOAD_BYTES, Explorer

STATIC = resources.files("tfp_audio_vae.explorer") / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""The ``Host`` names always allowed; `serve` adds the address it binds and ``--allow-host``."""
TOKEN_HEADER = "X-Explorer-Token"
POST_TYPES = {"/api/upload": "application/octet-stream"}
"""The content type each POST takes where it is not ``application/json``."""


def create_app(
    explorer: Explorer, *, token: str | None, allowed_hosts: Iterable[str] = LOOPBACK_HOSTS
) -> Starlette:
    """The ASGI app over ``explorer``: ``/`` is the page, ``/api/...`` the questions it asks,
    behind a `Guard` (``token=None``: no token needed). Its shutdown deletes the uploads folder
    (`Explorer.close`), so a server stopped by SIGTERM leaves none behind."""
    cookie = token_cookie(token)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        explorer.close()

    async def page(request: Request) -> FileResponse:
        response = FileResponse(str(STATIC / "index.html"))
        if token is not None:  # the Guard has checked it: the page's own requests carry it on
            response.set_cookie(cookie, token, httponly=True, samesite="strict", path="/")
        return response

    async def answer(question: Callable[[], Any]) -> JSONResponse:
        """Asks ``question`` off the event loop; a ValueError becomes a one-line 400."""
        try:
            return JSONResponse(await run_in_threadpool(question))
        except ValueError as error:
            return JSONResponse({"error": " ".join(str(error).split())}, status_code=400)

    async def info(request: Request) -> JSONResponse:
        return await answer(explorer.info)

    async def latent_map(request: Request) -> JSONResponse:
        method = request.query_params.get("method", "pca")
        return await answer(lambda: explorer.latent_map(method))

    async def clip(request: Request) -> JSONResponse:
        return await answer(lambda: explorer.clip(request.path_params["index"]))

    async def dimensions(request: Request) -> JSONResponse:
        clip = request.query_params.get("clip", "0")
        return await answer(lambda: explorer.dimensions(_int({"clip": clip}, "clip", 0)))

    async def sample(request: Request) -> JSONResponse:
        body = await _json(request)
        return await answer(
            lambda: explorer.sample(
                _int(body, "n", 4),
                temperature=_float(body, "temperature", defaults.TEMPERATURE),
                digit=None if body.get("digit") in (None, "") else _int(body, "digit", 0),
                seed=_int(body, "seed", 0),
            )
        )

    async def interpolate(request: Request) -> JSONResponse:
        body = await _json(request)
        return await answer(
            lambda: explorer.interpolate(
                _int(body, "a", 0),
                _int(body, "b", 1),
                steps=_int(body, "steps", 6),
                beyond=_float(body, "beyond", 0.0),
            )
        )

    async def move(request: Request) -> JSONResponse:
        """``{"index": clip, "values": {dimension: value}}`` -> the re-decoded sound."""
        body = await _json(request)
        return await answer(lambda: explorer.move(_int(body, "index", 0), _values(body)))

    async def upload(request: Request) -> JSONResponse:
        """The file is the raw request body; its name comes in the ``X-Filename`` header."""
        name = unquote(request.headers.get("x-filename", "upload"))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            return _too_large(name)
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD_BYTES:
                return _too_large(name)
        return await answer(lambda: explorer.upload(name, bytes(data)))

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/info", info),
            Route("/api/map", latent_map),
            Route("/api/clip/{index:int}", clip),
            Route("/api/dimensions", dimensions),
            Route("/api/sample", sample, methods=["POST"]),
            Route("/api/interpolate", interpolate, methods=["POST"]),
            Route("/api/move", move, methods=["POST"]),
            Route("/api/upload", upload, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        middleware=[Middleware(Guard, token=token, allowed_hosts=allowed_hosts)],
        lifespan=lifespan,
    )


class Guard:
    """ASGI middleware that refuses, before any routing or work, every request that did not come
    from the explorer's own page: in turn, a ``Host`` whose name is not in ``allowed_hosts``
    (403), an ``Origin`` (or, on ``/api/``, a ``Referer``) other than the request's own origin
    (403), a request other than for ``/static/`` without ``token`` (403), and a POST whose
    body is not JSON (or `POST_TYPES`' type) (415). Each refusal is ``{"error": one line}``."""

    def __init__(self, app: ASGIApp, *, token: str | None, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.token = None if token is None else token.encode()
        self.cookie = token_cookie(token)
        self.allowed = {host.strip().lower().strip("[]") for host in allowed_hosts} - {""}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(Request(scope))
            if refusal is not None:
                status, message = refusal
                await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, request: Request) -> tuple[int, str] | None:
        """``(status, why)`` when ``request`` is refused, else ``None``."""
        headers, path = request.headers, request.scope["path"]
        host = headers.get("host", "")
        if _hostname(host) not in self.allowed:
            return 403, (
                f"Host {host[:200]!r} is not allowed: open the explorer at 127.0.0.1 or localhost, "
                "or start it with --allow-host NAME"
            )
        own = _origin(f"{request.scope.get('scheme', 'http')}://{host}")
        origin = headers.get("origin")
        if origin is None and path.startswith("/api/"):
            origin = headers.get("referer")
        if origin is not None and _origin(origin) != own:
            return 403, f"a request from {origin[:200]!r} is not from this explorer's page"
        if self.token is not None and not path.startswith("/static/"):
            given = (
                headers.get(TOKEN_HEADER)
                or request.cookies.get(self.cookie)
                or (request.query_params.get("token") if path == "/" else None)
                or ""
            )
            if not hmac.compare_digest(given.encode(), self.token):
                return 403, (
                    "missing or wrong token: open the explorer at the URL with ?token= "
                    "that tfp-audio-vae explore printed"
                )
        if request.method == "POST":
            expected = POST_TYPES.get(path, "application/json")
            given_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if given_type != expected:
                return 415, f"POST {path} takes {expected}, not {given_type or 'no type'}"
        return None


def token_cookie(token: str | None) -> str:
    """The cookie holding ``token``: named after it, so explorers on two ports never clash."""
    digest = hashlib.sha256((token or "").encode()).hexdigest()[:8]
    return f"tfp_audio_vae_token_{digest}"


def serve(
    explorer: Explorer,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = True,
    require_token: bool = True,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Serves the explorer until interrupted (Ctrl-C), then deletes its uploads folder.

    A fresh random token goes into the URL printed and opened (unless ``require_token`` is
    false, which warns); the page answers only requests whose ``Host`` is a loopback name,
    ``host`` or one of ``allowed_hosts``.
    """
    token = secrets.token_urlsafe(32) if require_token else None
    allowed = (*LOOPBACK_HOSTS, host, *allowed_hosts)
    app = create_app(explorer, token=token, allowed_hosts=allowed)
    name = f"[{host}]" if ":" in host else host
    url = f"http://{name}:{port}/" + (f"?token={token}" if token else "")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    if token is None:
        print(
            "warning: --no-token: any program or user on this machine that reaches the port "
            "can use the explorer and read its clips and uploads",
            file=sys.stderr,
            flush=True,
        )
    print(f"exploring at {url} (Ctrl-C stops)", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        server.run()
    finally:
        explorer.close()


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _int(body: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(body.get(key, default))
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a whole number, got {body.get(key)!r}") from None


def _float(body: dict[str, Any], key: str, default: float) -> float:
    try:
        return float(body.get(key, default))
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {body.get(key)!r}") from None


def _values(body: dict[str, Any]) -> dict[int, float]:
    values = body.get("values", {})
    try:
        return {int(k): float(v) for k, v in values.items()}
    except (AttributeError, TypeError, ValueError):
        raise ValueError("values must map latent dimensions to numbers") from None


def _too_large(name: str) -> JSONResponse:
    message = f"{name}: over the {MAX_UPLOAD_BYTES}-byte upload limit"
    return JSONResponse({"error": message}, status_code=413)


def _hostname(host: str) -> str:
    """The name in a ``Host`` header (``[::1]:8765`` -> ``::1``, ``LocalHost`` -> ``localhost``),
    or ``""`` for a header that is not a name or ``[address]`` with an optional port."""
    match = re.fullmatch(r"\[([0-9a-f:.]+)\](?::\d+)?|([^:\[\]]+)(?::\d+)?", host.strip().lower())
    return "" if match is None else match.group(1) or match.group(2)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host name, port)`` of a URL, the port filled in for http and https;
    ``None`` where there is none (``null``, or a malformed URL)."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port
