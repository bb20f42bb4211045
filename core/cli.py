"""Command line: `python -m core models|predict|explain|serve|batch|bench ...` (see README)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from core import config, monitoring, service
from core.batch import command as batch_command
from core.errors import ConfigError, ImageError, InferenceError, UnknownModelError, VisionError
from core.explain.methods import METHODS
from core.io.images import load_image
from core.models.registry import model_names
from core.monitoring import command as monitor_command

PROGRESS_AFTER = 3  # a progress bar for batches larger than this
BENCH_RUNS = 50


def main(argv: list[str] | None = None) -> int:
    """Run one command; a VisionError becomes `error: <message>` and its exit code (1: this input
    cannot be served, 2: the model or the set-up is not available), never a traceback."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except VisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Run the registered image models.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="list the registered models")
    models.add_argument("--json", action="store_true", help="one JSON object per model")
    models.set_defaults(handler=_models)

    predict = commands.add_parser("predict", help="run a model on image files")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--model", required=True, help="a registered model name")
    predict.add_argument("--top-k", type=int, help=f"classes to report (classifiers; default {config.TOP_K})")
    predict.add_argument("--conf", type=float, help=f"confidence threshold (detectors; default {config.CONFIDENCE})")
    predict.add_argument("--iou", type=float, help=f"NMS IoU threshold (detectors; default {config.NMS_IOU})")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.add_argument("--csv", metavar="OUT.csv", help="also write the results as a table")
    predict.add_argument("--weights", metavar="PATH", help="use this weights file instead of searching")
    predict.add_argument("--log", action="store_true", help=f"record the predictions in the prediction log "
                         f"(${config.MONITOR_DB_ENV})")
    predict.set_defaults(handler=_predict)

    explain = commands.add_parser("explain", help="heatmap of why a model answers what it does")
    explain.add_argument("image", metavar="IMAGE")
    explain.add_argument("--model", required=True, help="a registered model name")
    explain.add_argument("--method", choices=list(METHODS),
                         help="default: the model's first method (gradcam for classifiers, eigencam for detectors)")
    explain.add_argument("--target", help="class label or index to explain (default: the top class)")
    explain.add_argument("--box", type=int, help="detectors: index of the detection to explain")
    explain.add_argument("--layer", help="layer name (default: the model's Grad-CAM layer)")
    explain.add_argument("--out", metavar="OVERLAY.png", help="write the heatmap over the image here")
    explain.add_argument("--opacity", type=float, default=0.5)
    explain.add_argument("--json", action="store_true", help="print the result as JSON")
    explain.set_defaults(handler=_explain)

    serve = commands.add_parser("serve", help="the REST API (FastAPI on uvicorn; docs at /docs)")
    serve.add_argument("--host", default=config.API_HOST, help=f"address to bind (default {config.API_HOST}: "
                       "this machine only; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=config.API_PORT, help=f"default {config.API_PORT}")
    serve.add_argument("--workers", type=int, default=1, help="server processes, each with its own models "
                       "(default 1)")
    serve.add_argument("--preload", action="append", metavar="NAME", help="a model to load before reporting "
                       f"ready (repeatable; default: ${config.API_PRELOAD_ENV}, else every model)")
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request")
    serve.set_defaults(handler=_serve)

    batch_command.add_parser(commands)
    monitor_command.add_parser(commands)

    bench = commands.add_parser("bench", help="warm latency per model at batch 1")
    bench.add_argument("--model", action="append", help="a model to time (default: all)")
    bench.add_argument("--runs", type=int, help=f"timed runs per model (default {BENCH_RUNS})")
    bench.add_argument("--image", help="image to time on (default: bus.jpg from VISION_DATA_DIR)")
    bench.add_argument("--explain", action="store_true", help="time each explanation method instead")
    bench.add_argument("--live", type=int, metavar="SIZE", help="frames per second of live mode at this input size")
    bench.add_argument("--memory", action="store_true", help="resident memory: frameworks, models, explanations, "
                       "then --large-photos distinct 40 MP photos")
    bench.add_argument("--large-photos", type=int, default=20, metavar="N", help="photos for --memory (default 20)")
    bench.add_argument("--api", action="store_true", help="throughput and latency of the REST API under load, "
                       "beside in-process predict")
    bench.add_argument("--clients", default="1,8,32", metavar="N,N,...", help="concurrent clients per load level "
                       "for --api (default 1,8,32)")
    bench.add_argument("--seconds", type=float, default=20, help="seconds per load level for --api (default 20)")
    bench.add_argument("--batch", action="store_true", help="images/s of `batch` (local, Ray with 1 and 2 actors) "
                       "beside the model alone; --image names a folder (default: CIFAR-10's test set)")
    bench.add_argument("--monitor", action="store_true", help="p50 latency of predict with the prediction log "
                       "on and off, interleaved (default models: mobilenet_v2, cifar10_cnn, yolo11n)")
    bench.set_defaults(handler=_bench)
    return parser


def _models(args: argparse.Namespace) -> int:
    for info in service.list_models():
        row = {
            "name": info.name,
            "task": info.task,
            "dataset": info.dataset,
            "input_size": info.input_size,
            "classes": info.classes,
            "weights": info.weights,
            "weights_found": info.weights_path is not None,
            "weights_path": info.weights_path,
            **({"problem": info.problem} if info.problem else {}),
        }
        if args.json:
            print(json.dumps(row))
        elif info.problem:
            print(f"{info.name:<22} unusable: {info.problem}")
        else:
            where = info.weights_path or "not found on this machine (downloaded on first use, unless VISION_OFFLINE=1)"
            print(f"{info.name:<22} {info.task:<9} {info.input_size:>4}px {info.classes:>5} classes  {where}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    given = {"top_k": args.top_k, "conf": args.conf, "iou": args.iou}
    options = service.options_for(args.model, **{key: value for key, value in given.items() if value is not None})
    service.load(args.model, args.weights)  # a missing model fails once, before the images
    rows = []
    for path in _progress(args.images, enabled=bool(args.csv)):
        try:
            source = "cli" if args.log else None
            row = {"image": path, **service.predict(args.model, path, weights=args.weights, source=source,
                                                    **options).to_dict()}
        except (ImageError, InferenceError) as error:  # one failing image must not stop the batch
            row = {"image": path, "error": error.payload()}
        rows.append(row)
        print(json.dumps(row) if args.json else _describe(row), flush=True)
    if args.csv:
        _write_csv(rows, args.csv)
    if args.log and not monitoring.flush():
        print("warning: the prediction log could not write every record (see the messages above)", file=sys.stderr)
    return 1 if any("error" in row for row in rows) else 0


def _describe(row: dict) -> str:
    if "error" in row:
        return f"{row['image']}: error: {row['error']['message']}"
    if row["task"] == "classify":
        found = ", ".join(f"{s['label']} {s['score']:.1%}" for s in row["top_k"])
    else:
        found = ", ".join(f"{d['label']} {d['score']:.2f}" for d in row["detections"]) or "nothing detected"
    return f"{row['image']}: {found}  ({row['latency_ms']:.1f} ms)"


def _write_csv(rows: list[dict], path: str) -> None:
    import pandas as pd

    table = pd.DataFrame([flat for row in rows for flat in _flatten(row)])
    table.to_csv(path, index=False)
    print(f"wrote {len(table)} rows to {path}", file=sys.stderr)


def _flatten(row: dict) -> Iterator[dict]:
    """One table row per reported class or detection, one per failed image."""
    base = {key: row[key] for key in ("image", "model", "task", "latency_ms") if key in row}
    if "error" in row:
        yield {**base, "error": row["error"]["message"]}
    elif row["task"] == "classify":
        for rank, score in enumerate(row["top_k"], start=1):
            yield {**base, "rank": rank, **score}
    elif not row["detections"]:
        yield base  # the image stays in the table even when nothing was found
    else:
        for detection in row["detections"]:
            x1, y1, x2, y2 = detection["box"]
            yield {**base, **{k: v for k, v in detection.items() if k != "box"}, "x1": x1, "y1": y1, "x2": x2, "y2": y2}


def _progress(items: list[str], enabled: bool):
    if not enabled or len(items) <= PROGRESS_AFTER:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="images", unit="img", file=sys.stderr)


def _explain(args: argparse.Namespace) -> int:
    result = service.explain(args.model, args.image, args.method, target=args.target, layer=args.layer, box=args.box)
    if args.out:
        from PIL import Image

        from core.viz.drawing import overlay_heatmap

        Image.fromarray(overlay_heatmap(load_image(args.image), result.heatmap, args.opacity)).save(args.out)
    row = {"image": args.image, **result.to_dict()}
    if args.json:
        print(json.dumps(row))
    else:
        f = result.faithfulness
        score = f" {f.verdict()};" if f else ""
        print(f"{args.image}: {result.method} for {result.target.label} ({result.target.score:.1%}) at {result.layer};"
              f"{score} peak {result.peak} ({result.latency_ms:.0f} ms)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from core.api.server import serve

    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}.")
    registered = model_names()
    unknown = [name for name in args.preload or [] if name not in registered]
    if unknown:
        raise UnknownModelError(unknown[0], registered)
    serve(args.host, args.port, args.workers, args.preload, access_log=not args.no_access_log)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from core.bench import (
        LIVE_SECONDS,
        print_benchmark,
        print_explain_benchmark,
        print_live_benchmark,
        print_memory_benchmark,
    )

    if args.api:
        from core.api.bench import client_counts, print_api_benchmark

        clients = client_counts(args.clients)
        return print_api_benchmark(args.model or ["mobilenet_v2", "yolo11n"], clients, args.seconds, args.image)
    if args.memory:
        return print_memory_benchmark(args.large_photos)
    if args.monitor:
        from core.monitoring.bench import print_monitor_benchmark

        models = args.model or ["mobilenet_v2", "cifar10_cnn", "yolo11n"]
        return print_monitor_benchmark(models, args.image, args.runs or 200)
    if args.batch:
        from core.batch.bench import print_batch_benchmark

        return print_batch_benchmark((args.model or ["mobilenet_v2"])[0], args.image)
    if args.live:
        ignored = [flag for flag, value in (("--runs", args.runs), ("--image", args.image), ("--explain", args.explain))
                   if value]
        if ignored:
            print(f"note: --live feeds bus.jpg frames for {LIVE_SECONDS:.0f} s; {', '.join(ignored)} ignored",
                  file=sys.stderr)
        return print_live_benchmark((args.model or ["yolo11n"])[0], args.live)
    run = print_explain_benchmark if args.explain else print_benchmark
    return run(args.model or model_names(variants=False), runs=args.runs or BENCH_RUNS, image_path=args.image)
