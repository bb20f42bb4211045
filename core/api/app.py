"""The API application: its shared state, middleware and error mapping; the routes are in
core.api.routes.

Every error a client can meet is a VisionError answered as
{"error": {"code": ..., "message": ...}} with the error's HTTP status, never a traceback: the
service's own errors, a bad query parameter (422), an unknown route (404) and, as a last resort, a
bug (500, logged in full on the server's side only).
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from core import config, service
from core.api.alerting import start_checks
from core.api.limits import BodyLimit
from core.api.metrics import ApiMetrics, MetricsMiddleware
from core.api.pool import InferencePool
from core.errors import BusyError, InferenceTimeoutError, VisionError
from core.models.registry import model_names

log = logging.getLogger("core.api")

DESCRIPTION = """Classify, detect and explain images with the registered models: the same service
the app and the command line use, so all three give the same answers. Health and model metadata
follow the Open Inference Protocol (KServe v2), and `POST /v2/models/{name}/infer` takes its requests.
Errors are `{"error": {"code": ..., "message": ...}}`."""


class Server:
    """What the routes share: the inference pool, the metrics and the preloading's progress."""

    def __init__(self, preload: list[str]):
        self.preload = preload
        self.loading: dict[str, str] = {name: "loading" for name in preload}  # name -> loading, ready or the error
        self.pool = InferencePool(config.api_threads(), config.api_queue(), config.api_timeout_s())
        self.metrics = ApiMetrics(set(model_names()))
        self.max_file_bytes = config.api_max_file_bytes()

    def ready(self) -> bool:
        return all(state == "ready" for state in self.loading.values())

    def load_all(self) -> None:
        """Load the preloaded models one after the other (on a thread of its own: the server answers
        health checks meanwhile)."""
        for name in self.preload:
            try:
                service.load(name)
                self.loading[name] = "ready"
            except VisionError as error:
                self.loading[name] = str(error)
                log.error("could not load %s: %s", name, error)

    async def infer(self, name: str, kind: str, call, *args, **kwargs):
        """`call` on the pool, timed into the inference histogram under `name` and `kind`."""
        histogram = self.metrics.inference_seconds.labels(self.metrics.model_label(name), kind)

        def timed():
            with histogram.time():
                return call(*args, **kwargs)

        return await self.pool.run(timed)


def create_app(preload: list[str] | None = None) -> FastAPI:
    """The API, loading `preload` (default: VISION_API_PRELOAD) before it reports ready."""
    from core.api import routes

    server = Server(config.api_preload(model_names(), model_names(variants=False)) if preload is None else preload)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=server.load_all, name="preload", daemon=True).start()
        checks = start_checks(server.metrics)
        yield
        if checks is not None:
            checks.set()
        server.pool.shutdown()

    app = FastAPIOffline(title="Vision side by side", description=DESCRIPTION, version="1", lifespan=lifespan)
    app.state.server = server
    app.include_router(routes.router)
    _map_errors(app, server.metrics)
    origins = config.api_cors_origins()
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(BodyLimit, max_bytes=config.api_max_request_bytes())
    app.add_middleware(MetricsMiddleware, metrics=server.metrics)  # outermost: counts every answer, 413s included
    return app


def _map_errors(app: FastAPI, metrics: ApiMetrics) -> None:
    @app.exception_handler(VisionError)
    async def vision_error(request: Request, error: VisionError) -> JSONResponse:
        model = metrics.model_label(request.path_params.get("name"))
        headers = {}
        if isinstance(error, BusyError):
            metrics.rejections.labels(model).inc()
            headers["Retry-After"] = str(error.retry_after_s)
        elif isinstance(error, InferenceTimeoutError):
            metrics.timeouts.labels(model).inc()
        return error_response(error.http_status, error.payload(), headers)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = " ".join(str(part) for part in first["loc"])
        return error_response(422, {"code": "invalid_option", "message": f"{where}: {first['msg']}."})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        message = f"{error.detail}: {request.method} {request.url.path}; the routes are listed at /docs."
        return error_response(error.status_code, {"code": code, "message": message}, error.headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return error_response(500, {"code": "internal", "message": "The server failed unexpectedly; the details "
                                    "are in its log."})


def error_response(status: int, payload: dict, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": payload}, status_code=status, headers=headers)
