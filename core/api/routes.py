"""The API's routes: health and model metadata (Open Inference Protocol), predictions,
explanations and the protocol's infer request. Each route checks the model and its options
before it reads the body, and runs the model on the inference pool (see core.api.app.Server)."""

from __future__ import annotations

import base64
import io

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from core import config, monitoring, service
from core.api import oip
from core.api.uploads import Upload, read_uploads
from core.errors import InvalidOptionError, RequestError, VisionError
from core.io.images import load_image
from core.monitoring import shadow

router = APIRouter()
NOT_READY = {503: {"description": "Not ready yet (the body says what is still loading)."}}


def _server(request: Request):
    return request.app.state.server


@router.get("/v2/health/live", tags=["health"], summary="The server is running")
async def live() -> dict:
    return {"live": True}


@router.get("/v2/health/ready", tags=["health"], summary="Every preloaded model is loaded", responses=NOT_READY)
async def ready(request: Request) -> JSONResponse:
    server = _server(request)
    ready = server.ready()
    return JSONResponse({"ready": ready, "models": server.loading}, status_code=200 if ready else 503)


@router.get("/v2", tags=["metadata"], summary="Server metadata")
async def server_metadata() -> dict:
    return {"name": "vision-side-by-side", "version": "1", "extensions": []}


# The metadata routes look at the weights files (a first call hashes them): plain functions, which
# FastAPI runs on its thread pool, so the event loop never waits on the disk.
@router.get("/v2/models", tags=["metadata"], summary="Every registered model")
def models() -> dict:
    return {"models": [_describe(info) for info in service.list_models()]}


@router.get("/v2/models/{name}", tags=["metadata"], summary="One model, with its labels")
async def model(name: str, request: Request) -> dict:
    labels = await _server(request).infer(name, "load", service.labels, name)  # loads it: 404 if unknown
    info = service.model_info(name)  # after loading, so it says loaded, and the digest is remembered
    tensors = oip.CLASSIFIER_OUTPUTS if info.task == "classify" else oip.DETECTOR_OUTPUTS
    return {**_describe(info), "versions": [info.version] if info.version else [], "platform": info.runtime,
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [-1]}],
            "outputs": [{"name": tensor} for tensor in tensors], "labels": list(labels)}


@router.get("/v2/models/{name}/ready", tags=["health"], summary="The model is loaded", responses=NOT_READY)
def model_ready(name: str) -> JSONResponse:
    service.model_info(name)  # 404 for a name that is not registered
    loaded = service.is_loaded(name)
    return JSONResponse({"name": name, "ready": loaded}, status_code=200 if loaded else 503)


def _describe(info: service.ModelInfo) -> dict:
    row = {"name": info.name, "task": info.task, "title": info.title, "dataset": info.dataset,
           "input_size": info.input_size, "classes": info.classes, "version": info.version, "runtime": info.runtime,
           "weights_found": info.weights_path is not None, "ready": info.loaded}
    return {**row, "problem": info.problem} if info.problem else row


def _upload_form(multiple: bool) -> dict:
    """The multipart body as OpenAPI describes it (the routes read it themselves, as it streams)."""
    binary = {"type": "string", "format": "binary"}
    fields = {"file": binary, **({"files": {"type": "array", "items": binary}} if multiple else {})}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": fields}}}}}


async def _uploads(request: Request, fields: tuple[str, ...]) -> list[Upload]:
    return await read_uploads(request.headers.get("content-type", ""), request.stream(), fields,
                              _server(request).max_file_bytes)


@router.post("/v1/models/{name}/predict", tags=["inference"], openapi_extra=_upload_form(multiple=True),
             summary="Classify or detect: one `file` or several `files`")
async def predict(
    name: str, request: Request, after: BackgroundTasks,
    top_k: int | None = Query(None, description=f"classifiers: classes to report (default {config.TOP_K})"),
    conf: float | None = Query(None, description=f"detectors: confidence threshold (default {config.CONFIDENCE})"),
    iou: float | None = Query(None, description=f"detectors: NMS IoU threshold (default {config.NMS_IOU})"),
    imgsz: int | None = Query(None, description="detectors: input side, a multiple of 32 (default: the model's)"),
) -> JSONResponse:
    """One JSON object per file, in the order sent, as `python -m core predict --json` prints them.
    With several files, a file that cannot be read gets its error in its place and the others are
    answered; with one, its error is the response's."""
    given = {"top_k": top_k, "conf": conf, "iou": iou, "imgsz": imgsz}
    options = service.options_for(name, **{key: value for key, value in given.items() if value is not None})
    uploads = await _uploads(request, ("file", "files"))
    answers = await _server(request).infer(name, "predict", service.predict_each, name,
                                           [upload.data for upload in uploads], source="api", **options)
    if len(uploads) == 1 and isinstance(answers[0], VisionError):
        raise answers[0]
    shadowed = shadow.chosen(name, answers)
    if shadowed:  # run once the response is sent: the client never waits for the challenger
        after.add_task(_shadow, _server(request), name, [uploads[index].data for index in shadowed],
                       [answers[index] for index in shadowed], options)
    return JSONResponse([_row(upload.filename, answer) for upload, answer in zip(uploads, answers)])


async def _shadow(server, name: str, images: list[bytes], served: list, options: dict) -> None:
    """The challenger's answers, on the inference pool (a busy pool skips them: served requests first)."""
    try:
        await server.infer(name, "shadow", shadow.run, name, images, served, options)
    except VisionError:
        pass


def _row(filename: str, answer) -> dict:
    if isinstance(answer, VisionError):
        return {"image": filename, "error": answer.payload()}
    return {"image": filename, **answer.to_dict()}


@router.post("/v1/models/{name}/explain", tags=["inference"], openapi_extra=_upload_form(multiple=False),
             summary="A heatmap of why the model answers what it does",
             responses={200: {"content": {"image/png": {}}, "description": "JSON, or the overlay itself with "
                                                                           "`Accept: image/png`"}})
async def explain(
    name: str, request: Request,
    method: str | None = Query(None, description="gradcam, gradcam++, scorecam (classifiers); eigencam (detectors)"),
    target: str | None = Query(None, description="classifiers: class label or index (default: the top class)"),
    layer: str | None = Query(None, description="layer name (default: the model's)"),
    box: int | None = Query(None, description="detectors: index of the detection to explain"),
    opacity: float = Query(0.5, description="of the heatmap over the image, 0 to 1"),
    faithfulness: bool = Query(True, description="also compute the deletion and insertion curves against "
                                                 "random maps (a hundred or so model calls)"),
) -> Response:
    """`python -m core explain --json`'s object, with the heatmap over the image as a base64 PNG
    in `overlay_png`."""
    service.methods(name)  # 404 before the upload is read
    if not 0 <= opacity <= 1:
        raise InvalidOptionError(f"opacity must be a number from 0 to 1, not {opacity!r}.")
    uploads = await _uploads(request, ("file",))
    if len(uploads) > 1:
        raise RequestError("An explanation is of one image: send one file.")
    upload = uploads[0]
    result, png = await _server(request).infer(name, "explain", _explain_with_overlay, name, upload.data, opacity,
                                               method=method, target=target, layer=layer, box=box,
                                               faithfulness=faithfulness)
    if "image/png" in request.headers.get("accept", ""):
        return Response(png, media_type="image/png")
    row = {"image": upload.filename, **result.to_dict(), "overlay_png": base64.b64encode(png).decode()}
    return JSONResponse(row)


def _explain_with_overlay(name: str, data: bytes, opacity: float, **choices) -> tuple:
    from PIL import Image

    from core.viz.drawing import overlay_heatmap

    pixels = load_image(data)
    result = service.explain(name, pixels, **choices)
    encoded = io.BytesIO()
    Image.fromarray(overlay_heatmap(pixels, result.heatmap, opacity)).save(encoded, "PNG", compress_level=3)
    return result, encoded.getvalue()


@router.post("/v2/models/{name}/infer", tags=["inference"], summary="Open Inference Protocol request",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": oip.REQUEST_SCHEMA}}}})
async def infer(name: str, request: Request) -> dict:
    """The image files base64-encoded in one BYTES input; options as request parameters."""
    service.model_info(name)
    parsed = oip.parse(await request.body())
    options = service.options_for(name, **oip.options(parsed))
    results = await _server(request).infer(name, "infer", service.predict_many, name, oip.images(parsed),
                                           source="api", **options)
    return oip.response(name, results[0].version, parsed, results)


class Feedback(BaseModel):
    prediction_id: str = Field(description="the `prediction_id` of a predict answer")
    correct: bool = Field(description="whether the top answer was right")
    label: str | None = Field(None, description="what the image really shows (one of the model's labels)")


@router.post("/v1/feedback", tags=["monitoring"], summary="Say whether a logged prediction was right")
def feedback(body: Feedback) -> dict:
    """Kept in the prediction log: `python -m core monitor report` tracks the rolling accuracy it gives."""
    service.feedback(body.prediction_id, body.correct, body.label, source="api")
    return {"kept": True}


@router.get("/metrics", tags=["health"], summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    server = _server(request)
    server.metrics.queued.set(server.pool.pending)
    server.metrics.observe_log(monitoring.prediction_log())
    return Response(generate_latest(server.metrics.registry), media_type=CONTENT_TYPE_LATEST)
