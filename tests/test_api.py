"""The REST API for real: `python -m core serve` started as a subprocess on a free localhost port,
driven over HTTP with httpx. The answers are compared with the service's own, in this process.

The server runs with small upload limits (VISION_API_MAX_FILE_MB=2, VISION_API_MAX_REQUEST_MB=5),
so the limits are tested without sending hundreds of megabytes.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image
from test_images import BAD_INPUTS

from core import service
from core.api.metrics import metric_value
from core.api.process import api_server
from core.cli import _parser

PRELOAD = ["mobilenet_v2", "yolo11n", "cifar10_cnn"]
LIMITS = {"VISION_API_MAX_FILE_MB": "2", "VISION_API_MAX_REQUEST_MB": "5"}


@pytest.fixture(scope="module")
def api(weights_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("api") / "server.log"
    with api_server(PRELOAD, log, LIMITS, report=print) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def jpegs(photo_paths) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in photo_paths.items()}


def _predict(api, model: str, files, **params) -> httpx.Response:
    return api.post(f"/v1/models/{model}/predict", files=files, params=params)


def _error(response: httpx.Response, status: int, code: str) -> str:
    """The response's error message, after checking its status, shape and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert message.endswith(".") and "Traceback" not in message
    return message


def test_health_and_metadata(api):
    assert api.get("/v2/health/live").json() == {"live": True}
    ready = api.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json()["models"] == {name: "ready" for name in PRELOAD}
    listed = {row["name"]: row for row in api.get("/v2/models").json()["models"]}
    expected = {info.name: info for info in service.list_models()}
    assert list(listed) == list(expected)
    for name, row in listed.items():
        assert (row["task"], row["input_size"], row["classes"], row["version"], row["runtime"]) == (
            expected[name].task, expected[name].input_size, expected[name].classes, expected[name].version,
            expected[name].runtime)
        assert row["ready"] == (name in PRELOAD)
    assert listed["mobilenet_v2"]["classes"] == 1000 and len(listed["yolo11n"]["version"]) == 12

    meta = api.get("/v2/models/mobilenet_v2").json()
    assert meta["versions"] == [listed["mobilenet_v2"]["version"]] and meta["platform"] == "tflite"
    assert len(meta["labels"]) == 1000 and meta["labels"][258] == "Samoyed"
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert api.get("/v2/models/yolo11n").json()["labels"][:2] == ["person", "bicycle"]
    assert api.get("/v2/models/yolo11n/ready").json() == {"name": "yolo11n", "ready": True}
    assert api.get("/v2").json()["name"] == "vision-side-by-side"
    _error(api.get("/v2/models/nope"), 404, "unknown_model")
    _error(api.get("/v2/models/nope/ready"), 404, "unknown_model")


def test_a_model_not_preloaded_is_not_ready_until_it_is_used(api, jpegs):
    reply = api.get("/v2/models/mobilenet_v2_cifar10/ready")
    assert reply.status_code == 503 and reply.json() == {"name": "mobilenet_v2_cifar10", "ready": False}
    assert _predict(api, "mobilenet_v2_cifar10", {"file": ("dog.jpg", jpegs["dog"])}).status_code == 200
    assert api.get("/v2/models/mobilenet_v2_cifar10/ready").json()["ready"] is True


def test_predict_answers_as_the_service_does(api, jpegs, photo_paths):
    for model, image, options in (("mobilenet_v2", "dog", {"top_k": 3}), ("yolo11n", "bus", {"conf": 0.5}),
                                  ("cifar10_cnn", "cat", {})):
        reply = _predict(api, model, {"file": (f"{image}.jpg", jpegs[image], "image/jpeg")}, **options)
        assert reply.status_code == 200, reply.text
        (row,) = reply.json()
        assert len(row.pop("prediction_id")) == 32  # the API logs its predictions
        expected = {"image": f"{image}.jpg", **service.predict(model, photo_paths[image], **options).to_dict()}
        assert _without_latency(row) == _without_latency(expected), model
    bus = _predict(api, "yolo11n", {"file": ("bus.jpg", jpegs["bus"])}, conf=0.5).json()[0]
    assert [d["label"] for d in bus["detections"]].count("person") >= 3


def _without_latency(row: dict) -> dict:
    """The row without its latency and its log id (new for each request), every number rounded to
    4 places (the same runtime gives the same numbers in two processes, to float precision)."""
    return _rounded({key: value for key, value in row.items() if key not in ("latency_ms", "prediction_id")})


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return [_rounded(item) for item in value] if isinstance(value, list) else value


def test_several_files_each_get_their_answer_and_a_bad_one_its_error(api, jpegs, photo_paths):
    files = [("files", ("dog.jpg", jpegs["dog"])), ("files", ("notes.jpg", b"not a picture" * 10)),
             ("files", ("cat.jpg", jpegs["cat"]))]
    reply = _predict(api, "mobilenet_v2", files, top_k=1)
    assert reply.status_code == 200
    rows = reply.json()
    assert [row["image"] for row in rows] == ["dog.jpg", "notes.jpg", "cat.jpg"]
    assert rows[0]["top_k"][0]["label"] == "Samoyed"
    assert rows[2]["top_k"][0]["label"] == service.predict("mobilenet_v2", photo_paths["cat"]).top.label
    assert rows[1]["error"]["code"] == "invalid_image" and "not an image" in rows[1]["error"]["message"]


def test_a_file_name_is_only_echoed(api, jpegs):
    name = "../../etc/passwd [click](https://evil.example).jpg"
    (row,) = _predict(api, "cifar10_cnn", {"file": (name, jpegs["dog"])}).json()
    assert row["image"] == name and row["task"] == "classify"


@pytest.mark.parametrize("name, make, words", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_every_bad_image_gets_400_with_the_loaders_message(api, photo, name, make, words):
    message = _error(_predict(api, "mobilenet_v2", {"file": (f"{name}.png", make(photo))}), 400, "invalid_image")
    assert words in message


def test_bad_requests_get_their_status_and_a_clear_message(api, jpegs):
    dog = {"file": ("dog.jpg", jpegs["dog"])}
    assert "registered: mobilenet_v2" in _error(_predict(api, "nope", dog), 404, "unknown_model")
    assert "takes top_k, not conf" in _error(_predict(api, "mobilenet_v2", dog, conf=0.3), 422, "invalid_option")
    assert "top_k" in _error(_predict(api, "mobilenet_v2", dog, top_k="many"), 422, "invalid_option")
    assert "multiple of 32" in _error(_predict(api, "yolo11n", dog, imgsz=33), 422, "invalid_option")
    assert "iou" in _error(_predict(api, "yolo11n", dog, iou=0), 422, "invalid_option")
    as_json = api.post("/v1/models/mobilenet_v2/predict", json={"image": "dog.jpg"})
    assert "multipart/form-data" in _error(as_json, 400, "invalid_request")
    as_field = api.post("/v1/models/mobilenet_v2/predict", data={"top_k": "3"}, files={"file": ("d.jpg", jpegs["dog"])})
    assert "query string" in _error(as_field, 400, "invalid_request")
    wrong_field = _predict(api, "mobilenet_v2", {"image": ("dog.jpg", jpegs["dog"])})
    assert "`file` or `files`" in _error(wrong_field, 400, "invalid_request")
    assert "/docs" in _error(api.get("/v1/nothing"), 404, "not_found")
    _error(api.get("/v1/models/mobilenet_v2/predict"), 405, "method_not_allowed")
    explain = "/v1/models/mobilenet_v2/explain"
    assert "not 'eigencam'" in _error(api.post(explain, files=dog, params={"method": "eigencam"}), 422,
                                      "invalid_option")
    _error(api.post(explain, files=dog, params={"opacity": 2}), 422, "invalid_option")
    two = [("file", ("a.jpg", jpegs["dog"])), ("file", ("b.jpg", jpegs["cat"]))]
    _error(api.post(explain, files=two), 400, "invalid_request")


def test_uploads_above_the_limits_get_413_as_they_stream_in(api, jpegs):
    big = bytes(2_100_000)  # above the 2 MB per file of this server
    assert "2 MB per file" in _error(_predict(api, "mobilenet_v2", {"file": ("big.jpg", big)}), 413, "too_large")
    declared = api.post("/v1/models/mobilenet_v2/predict", content=bytes(6_000_000),
                        headers={"content-type": "multipart/form-data; boundary=x"})
    assert "5 MB" in _error(declared, 413, "too_large")

    def chunked():  # no Content-Length: the server counts as it reads
        boundary = b"--b\r\n"
        for index in range(4):
            yield boundary + f'Content-Disposition: form-data; name="files"; filename="{index}.jpg"\r\n\r\n'.encode()
            yield bytes(1_500_000) + b"\r\n"
        yield b"--b--\r\n"

    streamed = api.post("/v1/models/mobilenet_v2/predict", content=chunked(),
                        headers={"content-type": "multipart/form-data; boundary=b"})
    assert "5 MB" in _error(streamed, 413, "too_large")
    assert _predict(api, "mobilenet_v2", {"file": ("dog.jpg", jpegs["dog"])}).status_code == 200


def test_explain_as_json_and_as_png(api, jpegs, photo_paths):
    dog = {"file": ("dog.jpg", jpegs["dog"])}
    row = api.post("/v1/models/mobilenet_v2/explain", files=dog, params={"target": "Samoyed"}).json()
    expected = service.explain("mobilenet_v2", photo_paths["dog"], target="Samoyed").to_dict()
    assert row["target"] == expected["target"] and row["heatmap_peak"] == expected["heatmap_peak"]
    aucs = ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc")
    assert [row["faithfulness"][k] for k in aucs] == pytest.approx([expected["faithfulness"][k] for k in aucs], abs=1e-3)
    assert row["faithfulness"]["curves"]["deletion"] == pytest.approx(expected["faithfulness"]["curves"]["deletion"],
                                                                      abs=1e-3)
    assert row["image"] == "dog.jpg" and row["method"] == "gradcam" and row["version"] == expected["version"]
    overlay = Image.open(io.BytesIO(base64.b64decode(row["overlay_png"])))
    assert overlay.format == "PNG" and overlay.size == Image.open(photo_paths["dog"]).size

    png = api.post("/v1/models/yolo11n/explain", files={"file": ("bus.jpg", jpegs["bus"])},
                   params={"box": 0, "faithfulness": "false"}, headers={"accept": "image/png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == Image.open(photo_paths["bus"]).size


def _infer_request(*images: bytes, **parameters) -> dict:
    return {"id": "request-7", "parameters": parameters, "inputs": [{
        "name": "image", "shape": [len(images)], "datatype": "BYTES",
        "data": [base64.b64encode(image).decode() for image in images]}]}


def test_open_inference_protocol_request(api, jpegs):
    reply = api.post("/v2/models/mobilenet_v2/infer", json=_infer_request(jpegs["dog"], jpegs["cat"], top_k=2))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["id"] == "request-7" and body["model_name"] == "mobilenet_v2" and len(body["model_version"]) == 12
    outputs = {output["name"]: output for output in body["outputs"]}
    assert outputs["probabilities"]["shape"] == [2, 1000] and outputs["probabilities"]["datatype"] == "FP32"
    assert outputs["top_k_labels"]["shape"] == [2, 2] and outputs["top_k_labels"]["data"][0] == "Samoyed"
    assert sum(outputs["probabilities"]["data"][:1000]) == pytest.approx(1, abs=1e-3)

    detected = api.post("/v2/models/yolo11n/infer", json={**_infer_request(jpegs["bus"], conf=0.5),
                                                         "outputs": [{"name": "labels"}, {"name": "boxes"}]}).json()
    labels, boxes = detected["outputs"]
    assert (labels["name"], boxes["name"]) == ("labels", "boxes") and "bus" in labels["data"]
    assert boxes["shape"] == [len(labels["data"]), 4] and detected["parameters"]["conf"] == 0.5

    bad = _infer_request(jpegs["dog"])
    bad["inputs"][0]["data"] = ["not base64!"]
    assert "base64" in _error(api.post("/v2/models/mobilenet_v2/infer", json=bad), 400, "invalid_request")
    assert "Open Inference Protocol" in _error(api.post("/v2/models/mobilenet_v2/infer", content=b"{"), 400,
                                               "invalid_request")
    unknown = {**_infer_request(jpegs["dog"]), "outputs": [{"name": "logits"}]}
    assert "probabilities" in _error(api.post("/v2/models/mobilenet_v2/infer", json=unknown), 400, "invalid_request")
    _error(api.post("/v2/models/mobilenet_v2/infer", json=_infer_request(b"")), 400, "invalid_image")


def test_concurrent_requests_each_get_their_own_answer(api, jpegs):
    """32 requests from 8 threads, mixing models and images: each answer is the one the same
    request gets alone (no cross-talk between requests sharing a model)."""
    cases = [(model, image) for model in ("mobilenet_v2", "yolo11n", "cifar10_cnn") for image in ("bus", "dog", "cat")]
    alone = {case: _answer(api, *case, jpegs) for case in cases}
    mixed = [cases[i % len(cases)] for i in range(32)]
    barrier = threading.Barrier(8)

    def send(numbered):
        index, case = numbered
        if index < 8:
            barrier.wait(timeout=30)  # the first 8 leave together
        return case, _answer(api, *case, jpegs)

    with ThreadPoolExecutor(8) as threads:
        for case, answer in threads.map(send, enumerate(mixed)):
            assert answer == alone[case], case
    assert api.get("/v2/health/ready").status_code == 200


def _answer(api, model: str, image: str, jpegs) -> dict:
    reply = _predict(api, model, {"file": (f"{image}.jpg", jpegs[image])})
    assert reply.status_code == 200, reply.text
    return _without_latency(reply.json()[0])


def test_metrics_count_what_was_sent(api, jpegs):
    route = {"route": "/v1/models/{name}/predict", "model": "cifar10_cnn"}
    before = api.get("/metrics").text
    for _ in range(3):
        _predict(api, "cifar10_cnn", {"file": ("dog.jpg", jpegs["dog"])})
    _predict(api, "cifar10_cnn", {"file": ("x.jpg", b"")})
    after = api.get("/metrics").text
    assert metric_value(after, "vision_api_requests_total", status="200", **route) - metric_value(
        before, "vision_api_requests_total", status="200", **route) == 3
    assert metric_value(after, "vision_api_requests_total", status="400", **route) - metric_value(
        before, "vision_api_requests_total", status="400", **route) == 1
    seconds = {"model": "cifar10_cnn", "kind": "predict"}
    assert metric_value(after, "vision_api_inference_seconds_count", **seconds) - metric_value(
        before, "vision_api_inference_seconds_count", **seconds) == 4
    assert metric_value(after, "vision_api_requests_in_flight") == 1  # this scrape itself
    assert metric_value(after, "vision_api_inference_queue") == 0


def test_docs_are_served_from_the_package_and_list_every_route(api):
    page = api.get("/docs")
    assert page.status_code == 200 and "/static-offline-docs/swagger-ui-bundle.js" in page.text
    assert api.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths) >= {"/v2/health/live", "/v2/health/ready", "/v2/models", "/v2/models/{name}",
                          "/v2/models/{name}/ready", "/v1/models/{name}/predict", "/v1/models/{name}/explain",
                          "/v2/models/{name}/infer", "/metrics"}
    upload = paths["/v1/models/{name}/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert set(upload["schema"]["properties"]) == {"file", "files"}


def test_serve_binds_this_machine_only_by_default():
    args = _parser().parse_args(["serve", "--port", "8123"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8123, 1)


def test_feedback_on_a_logged_prediction_and_the_log_counters(api, jpegs):
    row = _predict(api, "cifar10_cnn", {"file": ("cat.jpg", jpegs["cat"])}).json()[0]
    kept = api.post("/v1/feedback", json={"prediction_id": row["prediction_id"], "correct": False, "label": "cat"})
    assert kept.status_code == 200 and kept.json() == {"kept": True}
    _error(api.post("/v1/feedback", json={"prediction_id": "0" * 32, "correct": True}), 400, "invalid_request")
    wrong_label = {"prediction_id": row["prediction_id"], "correct": False, "label": "unicorn"}
    _error(api.post("/v1/feedback", json=wrong_label), 400, "invalid_request")
    _error(api.post("/v1/feedback", json={"correct": True}), 422, "invalid_option")
    deadline = time.monotonic() + 10
    while metric_value(api.get("/metrics").text, "vision_monitor_records_written") < 1:
        assert time.monotonic() < deadline, "the server's log wrote nothing"
        time.sleep(0.1)
    assert metric_value(api.get("/metrics").text, "vision_monitor_records_dropped") == 0
