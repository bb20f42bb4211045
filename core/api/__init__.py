"""The REST API: FastAPI routes over core.service, served by `python -m core serve` (see README,
"REST API"). `create_app` builds the application; core.api.server runs it on uvicorn."""
