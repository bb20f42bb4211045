"""`python -m core serve`: the API on uvicorn."""

from __future__ import annotations

from core import config


def serve(host: str = config.API_HOST, port: int = config.API_PORT, workers: int = 1,
          preload: list[str] | None = None, access_log: bool = True) -> None:
    """Serve the API until interrupted. With several workers each process loads its own models
    (uvicorn starts them from the import string, so the preload list travels in the environment)."""
    import uvicorn

    from core.api.app import create_app

    config.prefer_parallel_inference()
    options = {"host": host, "port": port, "access_log": access_log, "timeout_graceful_shutdown": 10}
    if workers == 1:
        uvicorn.run(create_app(preload), **options)
        return
    if preload is not None:
        config.export_api_preload(preload)
    uvicorn.run("core.api.app:create_app", factory=True, workers=workers, **options)
