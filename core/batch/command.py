"""`python -m core batch`: the command line of a batch run (its parser and its report)."""

from __future__ import annotations

import argparse
import sys

from core.batch import runner


def add_parser(commands) -> None:
    batch = commands.add_parser("batch", help="run models over many images into a table (resumable; local or Ray)",
                                description="One row per image and model, written in chunks; folders per class add "
                                "true_label and an accuracy summary.")
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="folders (recursive), globs, .zip files, or "
                       "manifests (.csv with a path column and optional label; .txt with one path per line)")
    batch.add_argument("--model", action="append", required=True, help="a registered model (repeatable)")
    batch.add_argument("--out", required=True, help="results.parquet, .csv or .jsonl")
    batch.add_argument("--engine", choices=runner.ENGINES, default="local")
    batch.add_argument("--ray-address", help="join this Ray cluster (`auto`: the one on this machine); "
                       "default: start a local Ray")
    batch.add_argument("--actors", type=int, default=2, help="Ray actors, each with its own models (default 2)")
    batch.add_argument("--batch-size", type=int, default=32, help="images per model call (default 32)")
    batch.add_argument("--top-k", type=int, help="classes per image for classifiers")
    batch.add_argument("--resume", action="store_true", help="skip images already answered in --out (same path "
                       "and content)")
    batch.add_argument("--overwrite", action="store_true", help="discard an existing --out and its checkpoint")
    batch.add_argument("--checkpoint-every", type=int, default=runner.CHUNK_ROWS, metavar="ROWS",
                       help=f"rows per checkpoint part (default {runner.CHUNK_ROWS}): a killed run redoes at most these")
    batch.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    bar = tqdm(desc="images", unit="img", file=sys.stderr, dynamic_ncols=True)

    def progress(handled: int, total: int, rows: list[dict]) -> None:
        bar.total = total
        bar.update(handled - bar.n)

    try:
        summary = runner.run(args.inputs, args.model, args.out, engine=args.engine, batch_size=args.batch_size,
                             resume=args.resume, overwrite=args.overwrite, top_k=args.top_k,
                             ray_address=args.ray_address, actors=args.actors, chunk_rows=args.checkpoint_every,
                             progress=progress)
    finally:
        bar.close()
    print(f"{summary.output}: {summary.new_rows} new rows ({summary.errors} errors) for {summary.images} images in "
          f"{summary.seconds:.1f} s ({summary.images_per_s:.1f} images/s)")
    for model, (correct, labelled) in summary.accuracy.items():
        print(f"{model}: accuracy {correct / labelled:.4f} ({correct} of {labelled} labelled images)")
    return 1 if summary.errors else 0
