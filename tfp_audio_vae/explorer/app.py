"""The explorer's web app: a Starlette ASGI app serving one plain page (``static/``) and a small
JSON API over an `Explorer`, run by uvicorn. Needs the ``app`` extra
(``pip install 'tfp-audio-vae[app]'``).

Every endpoint answers JSON; a bad request gets status 400 (413 for an upload over
`session.MAX_UPLOAD_BYTES`) and ``{"error": one line}``, which the page shows as it is.
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tfp_audio_vae import defaults
from tfp_audio_vae.explorer.session import MAX_UPLOAD_BYTES, Explorer

STATIC = resources.files("tfp_audio_vae.explorer") / "static"


def create_app(explorer: Explorer) -> Starlette:
    """The ASGI app over ``explorer``: ``/`` is the page, ``/api/...`` the questions it asks."""

    async def page(request: Request) -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

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
        ]
    )


def serve(
    explorer: Explorer, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True
) -> None:
    """Serves the explorer until interrupted (Ctrl-C), then deletes its uploads folder."""
    url = f"http://{host}:{port}/"
    config = uvicorn.Config(create_app(explorer), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
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
