"""Artifacts are written atomically: to a temporary file in the target's folder, then renamed onto
the target in one step. A process killed mid-write leaves the previous file intact (and at most a
hidden partial file beside it), and a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A fresh path beside `target` (same suffix, for writers that check it, like Keras' save) to
    write to; renamed onto `target` when the block ends, removed if it raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
    os.close(handle)
    staged = Path(name)
    staged.unlink()  # writers that refuse to overwrite (or open it themselves) get a free name
    try:
        yield staged
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)


def write_text(target: Path, text: str) -> None:
    """`target.write_text(text)`, atomically."""
    with atomic_path(target) as staged:
        staged.write_text(text)
