"""The Open Inference Protocol (KServe's "v2" REST protocol) for our models.

A request carries the image files base64-encoded in one BYTES input (shape [N]); the model's
options may come as request parameters (`top_k`, or `conf`, `iou` and `imgsz`). The response has
one output tensor per field of the answer, flattened in row-major order as the protocol asks:
  classifiers: probabilities FP32 [N, classes], top_k_indices INT64 [N, k], top_k_labels BYTES [N, k],
               top_k_scores FP32 [N, k];
  detectors:   image_index INT64 [D], boxes FP32 [D, 4] (x1, y1, x2, y2 in the image's pixels),
               scores FP32 [D], class_ids INT64 [D], labels BYTES [D] (D boxes over all images).
Spec: https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import RequestError

CLASSIFIER_OUTPUTS = ("probabilities", "top_k_indices", "top_k_labels", "top_k_scores")
DETECTOR_OUTPUTS = ("image_index", "boxes", "scores", "class_ids", "labels")
OPTION_PARAMETERS = ("top_k", "conf", "iou", "imgsz")


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestedOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "42", "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["<base64 of a JPEG>"]}],
        "parameters": {"top_k": 3}}})

    id: str | None = None
    inputs: list[InferInput] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None
    parameters: dict[str, Any] | None = None


def _inlined(schema: dict) -> dict:
    """`schema` with its $defs references written out (an OpenAPI document resolves "#/..." from
    its own root, where pydantic's $defs are not)."""
    definitions = schema.pop("$defs", {})

    def expand(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return expand(dict(definitions[node["$ref"].rsplit("/", 1)[-1]]))
            return {key: expand(value) for key, value in node.items()}
        return [expand(item) for item in node] if isinstance(node, list) else node

    return expand(schema)


REQUEST_SCHEMA = _inlined(InferRequest.model_json_schema())


def parse(body: bytes) -> InferRequest:
    try:
        return InferRequest.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        message = f"Not an inference request of the Open Inference Protocol ({where}: {first['msg']})."
        raise RequestError(message) from None


def images(request: InferRequest) -> list[bytes]:
    """The image files of the request's BYTES input."""
    chosen = [tensor for tensor in request.inputs if tensor.datatype == "BYTES"]
    if len(chosen) != 1:
        raise RequestError("Send exactly one BYTES input holding the base64-encoded image files.")
    values = _flatten(chosen[0].data)
    if not values or not all(isinstance(value, str) for value in values):
        raise RequestError("The BYTES input must hold base64-encoded image files as strings.")
    try:
        return [base64.b64decode(value, validate=True) for value in values]
    except binascii.Error:
        raise RequestError("An element of the BYTES input is not valid base64.") from None


def options(request: InferRequest) -> dict:
    parameters = request.parameters or {}
    return {key: parameters[key] for key in OPTION_PARAMETERS if key in parameters}


def response(name: str, version: str, request: InferRequest, results: list) -> dict:
    """The protocol's response for the results of one request (all of one model)."""
    task = results[0].task
    tensors = _classifier_tensors(results) if task == "classify" else _detector_tensors(results)
    wanted = [output.name for output in request.outputs or []]
    unknown = [name for name in wanted if name not in tensors]
    if unknown:
        raise RequestError(f"No output named {', '.join(unknown)}; this model gives {', '.join(tensors)}.")
    outputs = [{"name": key, **tensors[key]} for key in wanted or tensors]  # in the order asked for
    answer = {"model_name": name, "model_version": version, "outputs": outputs, "parameters": results[0].options}
    return {**({"id": request.id} if request.id is not None else {}), **answer}


def _classifier_tensors(results: list) -> dict:
    n, k = len(results), len(results[0].top_k)
    classes = len(results[0].probabilities)
    return {
        "probabilities": _tensor("FP32", [n, classes], [float(p) for r in results for p in r.probabilities]),
        "top_k_indices": _tensor("INT64", [n, k], [s.index for r in results for s in r.top_k]),
        "top_k_labels": _tensor("BYTES", [n, k], [s.label for r in results for s in r.top_k]),
        "top_k_scores": _tensor("FP32", [n, k], [s.score for r in results for s in r.top_k]),
    }


def _detector_tensors(results: list) -> dict:
    found = [(i, d) for i, r in enumerate(results) for d in r.detections]
    count = len(found)
    return {
        "image_index": _tensor("INT64", [count], [i for i, _ in found]),
        "boxes": _tensor("FP32", [count, 4], [value for _, d in found for value in d.box]),
        "scores": _tensor("FP32", [count], [d.score for _, d in found]),
        "class_ids": _tensor("INT64", [count], [d.class_id for _, d in found]),
        "labels": _tensor("BYTES", [count], [d.label for _, d in found]),
    }


def _tensor(datatype: str, shape: list[int], data: list) -> dict:
    return {"datatype": datatype, "shape": shape, "data": data}


def _flatten(data: list) -> list:
    """The protocol allows nested lists ([[a], [b]]) as well as flat ones."""
    return [value for item in data for value in (_flatten(item) if isinstance(item, list) else [item])]
