"""A batch run's rows and where they go: one row per image and model, written in chunks to a
`<output>.parts/` folder (each chunk a parquet file, written atomically), and merged into the
output (.parquet, .csv or .jsonl) when the run ends. The parts are the checkpoint `--resume` reads:
a killed run loses at most the chunk it was writing.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import RequestError
from core.io import atomic

FORMATS = (".parquet", ".csv", ".jsonl")
NESTED = ("top_k", "detections")  # lists: nested in parquet and JSON lines, JSON text in CSV
COLUMNS = ("image", "digest", "model", "version", "task", "true_label", "top1_label", "top1_score", "top_k",
           "detections", "latency_ms", "width", "height", "error")
NUMBERS = {"top1_score": float, "latency_ms": float, "width": int, "height": int}


def schema():
    """The rows' Arrow schema, fixed so that every chunk (even one of errors only) has the same types."""
    import pyarrow as pa

    text, number, whole = pa.string(), pa.float64(), pa.int64()
    score = pa.struct([("label", text), ("index", whole), ("score", number)])
    box = pa.struct([("label", text), ("class_id", whole), ("score", number), ("box", pa.list_(number))])
    types = {"top1_score": number, "latency_ms": number, "width": whole, "height": whole,
             "top_k": pa.list_(score), "detections": pa.list_(box)}
    return pa.schema([(name, types.get(name, text)) for name in COLUMNS])


def result_row(image: str, digest: str | None, true_label: str | None, size, result) -> dict:
    """A row from a Classification or Detections (the CLI's JSON fields, flattened)."""
    answer = result.to_dict()
    row = {"image": image, "digest": digest, "model": answer["model"], "version": answer["version"],
           "task": answer["task"], "true_label": true_label, "latency_ms": answer["latency_ms"],
           "width": size[0], "height": size[1], "error": None}
    if answer["task"] == "classify":
        top = answer["top_k"]
        row.update(top1_label=top[0]["label"], top1_score=top[0]["score"], top_k=top, detections=None)
    else:
        found = answer["detections"]
        row.update(top1_label=found[0]["label"] if found else None, top1_score=found[0]["score"] if found else None,
                   top_k=None, detections=found)
    return row


def error_row(image: str, digest: str | None, true_label: str | None, model: str, message: str) -> dict:
    return {**dict.fromkeys(COLUMNS), "image": image, "digest": digest, "model": model, "true_label": true_label,
            "error": message}


class Output:
    """The output file and its checkpoint folder."""

    def __init__(self, path: str | Path, resume: bool = False, overwrite: bool = False):
        self.path = Path(path)
        if self.path.suffix.lower() not in FORMATS:
            raise RequestError(f"--out {self.path}: write .parquet, .csv or .jsonl.")
        self.parts = self.path.with_name(self.path.name + ".parts")
        self._check_start(resume, overwrite)
        self.parts.mkdir(parents=True, exist_ok=True)
        self._next = len(self._part_files())
        if resume and self.path.is_file() and not self._next:
            self._split_finished_output()  # a finished run extended: its rows become the first parts

    def _check_start(self, resume: bool, overwrite: bool) -> None:
        """Nothing the user has is lost: an existing output or checkpoint is continued or explicitly
        discarded."""
        exists = self.path.exists() or self.parts.exists()
        if exists and not resume and not overwrite:
            raise RequestError(f"{self.path} (or its checkpoint {self.parts.name}/) exists: --resume continues that "
                               "run, --overwrite discards it.")
        if overwrite and not resume:
            shutil.rmtree(self.parts, ignore_errors=True)

    def _part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def done(self) -> dict[tuple[str, str], str]:
        """(image, model) -> digest of every row written so far, errors excepted (they are retried)."""
        import pyarrow.parquet as pq

        done = {}
        for part in self._part_files():
            for row in pq.read_table(part, columns=["image", "model", "digest", "error"]).to_pylist():
                if row["error"] is None:
                    done[(row["image"], row["model"])] = row["digest"]
        return done

    def write_chunk(self, rows: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            return
        table = pa.Table.from_pylist([{name: row.get(name) for name in COLUMNS} for row in rows], schema=schema())
        with atomic.atomic_path(self.parts / f"part-{self._next:06d}.parquet") as staged:
            pq.write_table(table, staged)
        self._next += 1

    def tables(self) -> Iterator:
        """The rows as Arrow tables, one chunk at a time, each (image, model) once: a retried
        error's row gives way to the later answer."""
        import pyarrow.parquet as pq

        parts = self._part_files()
        last = {}  # (image, model) -> the last part holding it
        for index, part in enumerate(parts):
            for row in pq.read_table(part, columns=["image", "model"]).to_pylist():
                last[(row["image"], row["model"])] = index
        for index, part in enumerate(parts):
            table = pq.read_table(part, schema=schema())
            keep = [last[(image, model)] == index for image, model in
                    zip(table.column("image").to_pylist(), table.column("model").to_pylist())]
            yield table.filter(keep)

    def finish(self) -> Path:
        """Merge the parts into the output (atomically), then drop the checkpoint."""
        with atomic.atomic_path(self.path) as staged:
            _write(self.tables(), staged, self.path.suffix.lower())
        shutil.rmtree(self.parts)
        return self.path

    def _split_finished_output(self) -> None:
        for rows in _read(self.path):
            self.write_chunk(rows)


def convert(source: Path, target: Path) -> Path:
    """A finished output in another of the formats (e.g. parquet to CSV), streamed chunk by chunk."""
    import pyarrow as pa

    with atomic.atomic_path(target) as staged:
        _write((pa.Table.from_pylist(rows, schema=schema()) for rows in _read(source)), staged, target.suffix.lower())
    return target


def _write(tables: Iterable, path: Path, kind: str) -> None:
    if kind == ".parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, schema()) as writer:
            for table in tables:
                writer.write_table(table)
        return
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(COLUMNS)) if kind == ".csv" else None
        if writer:
            writer.writeheader()
        for table in tables:
            for row in table.to_pylist():
                if writer:
                    writer.writerow({k: json.dumps(v) if k in NESTED and v is not None else v for k, v in row.items()})
                else:
                    stream.write(json.dumps(row) + "\n")


def _read(path: Path, chunk: int = 5000) -> Iterator[list[dict]]:
    """A finished output's rows, in chunks, typed as the schema wants."""
    kind = path.suffix.lower()
    if kind == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk):
            yield batch.to_pylist()
        return
    with open(path, newline="") as stream:
        rows = csv.DictReader(stream) if kind == ".csv" else (json.loads(line) for line in stream if line.strip())
        batch = []
        for row in rows:
            batch.append(_typed(row) if kind == ".csv" else row)
            if len(batch) == chunk:
                yield batch
                batch = []
        if batch:
            yield batch


def _typed(row: dict) -> dict:
    """A CSV row as values: empty cells are missing, numbers are numbers, nested cells are lists."""
    typed = {}
    for key, value in row.items():
        if value in ("", None):
            typed[key] = None
        elif key in NESTED:
            typed[key] = json.loads(value)
        elif key in NUMBERS:
            typed[key] = NUMBERS[key](float(value)) if NUMBERS[key] is int else float(value)
        else:
            typed[key] = value
    return typed
