"""What a batch run reads: folders (recursive), globs, zip files and manifests, expanded lazily into
items that know where their bytes are and, for a folder-per-class layout, their true label.

Nothing is opened until an item is read, so a missing file or a corrupt zip member becomes that
item's error row, not the end of the run.
"""

from __future__ import annotations

import csv
import glob
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import ImageError, RequestError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"}
MANIFEST_SUFFIXES = {".csv", ".txt"}
_archives = threading.local()  # one open ZipFile per archive and thread: reopening reads the directory again


@dataclass(frozen=True)
class Item:
    path: str  # a file, or the zip archive holding `member`
    member: str | None = None
    true_label: str | None = None

    @property
    def image(self) -> str:
        """The name rows use: the path, or archive.zip!member."""
        return f"{self.path}!{self.member}" if self.member else self.path

    def read(self) -> bytes:
        """The item's bytes; ImageError (in words a user can act on) when they cannot be read."""
        try:
            if self.member is None:
                return Path(self.path).read_bytes()
            return _archive(self.path).read(self.member)
        except FileNotFoundError:
            raise ImageError(f"{self.image}: no such file.") from None
        except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError) as error:
            raise ImageError(f"{self.image}: cannot be read ({type(error).__name__}: {error}).") from None


def expand(inputs: list[str]) -> Iterator[Item]:
    """Every item of every input, in a stable order (sorted within a folder, zip or glob)."""
    for given in inputs:
        path = Path(given).expanduser()
        if path.is_dir():
            yield from _folder(path)
        elif path.is_file() and path.suffix.lower() == ".zip":
            yield from _zip(path)
        elif path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            yield from _manifest(path)
        elif path.is_file():
            yield Item(str(path))
        elif glob.has_magic(given):
            matches = sorted(glob.glob(str(path), recursive=True))
            if not matches:
                raise RequestError(f"{given}: the pattern matches nothing.")
            for match in matches:
                if Path(match).is_dir() or Path(match).suffix.lower() in IMAGE_SUFFIXES | {".zip"} | MANIFEST_SUFFIXES:
                    yield from expand([match])
        else:
            raise RequestError(f"{given}: no such file or folder.")


def _folder(root: Path) -> Iterator[Item]:
    """Images under `root`, recursively. When every image lies in a first-level subfolder and there
    are at least two of them (cifar10/test/<class>/...), the subfolder is the image's true label."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    tops = {p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1}
    labelled = len(tops) >= 2 and all(len(p.relative_to(root).parts) > 1 for p in files)
    for path in files:
        yield Item(str(path), true_label=path.relative_to(root).parts[0] if labelled else None)


def _zip(path: Path) -> Iterator[Item]:
    """Members with image suffixes; labelled by their top-level folder like a folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES
                           and not n.startswith("__MACOSX/"))
    except (OSError, zipfile.BadZipFile) as error:
        raise RequestError(f"{path}: not a readable zip file ({error}).") from None
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    labelled = len(tops) >= 2 and all("/" in n for n in names)
    for name in names:
        yield Item(str(path), name, name.split("/", 1)[0] if labelled else None)


def _manifest(path: Path) -> Iterator[Item]:
    """A CSV with a `path` column (and optionally `label`), or a text file of one path per line;
    relative paths are relative to the manifest's folder."""
    base = path.parent
    with open(path, newline="") as stream:
        if path.suffix.lower() == ".csv":
            rows = csv.DictReader(stream)
            if not rows.fieldnames or "path" not in rows.fieldnames:
                raise RequestError(f"{path}: a CSV manifest needs a `path` column (and may have `label`).")
            entries = [(row["path"], row.get("label") or None) for row in rows]
        else:
            entries = [(line.strip(), None) for line in stream if line.strip() and not line.startswith("#")]
    for entry, label in entries:
        target = Path(entry).expanduser()
        yield Item(str(target if target.is_absolute() else base / target), true_label=label)


def _archive(path: str) -> zipfile.ZipFile:
    opened = getattr(_archives, "open", None)
    if opened is None:
        opened = _archives.open = {}
    if path not in opened:
        opened[path] = zipfile.ZipFile(path)
    return opened[path]
