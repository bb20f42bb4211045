"""Sample photos a new user can try before uploading anything.

They ship with installed dependencies (Ultralytics' and scikit-image's bundled images), found
without importing those packages; photos in $VISION_DATA_DIR/photos are added when it is set.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core import config

# display name -> (package, path inside the package)
BUNDLED = {
    "bus (Ultralytics)": ("ultralytics", "assets/bus.jpg"),
    "football players (Ultralytics)": ("ultralytics", "assets/zidane.jpg"),
    "cat (scikit-image)": ("skimage", "data/chelsea.png"),
    "astronaut (scikit-image)": ("skimage", "data/astronaut.png"),
    "coffee (scikit-image)": ("skimage", "data/coffee.png"),
    "rocket (scikit-image)": ("skimage", "data/rocket.jpg"),
    "motorcycle (scikit-image)": ("skimage", "data/motorcycle_left.png"),
}


def sample_images() -> dict[str, Path]:
    """Display name -> path of every sample photo available on this machine."""
    samples = {}
    for name, (package, relative) in BUNDLED.items():
        folder = _package_dir(package)
        if folder and (folder / relative).is_file():
            samples[name] = folder / relative
    data = config.data_dir()
    if data and (data / "photos").is_dir():
        for path in sorted((data / "photos").glob("*.jpg")):
            samples[f"{path.stem} (VISION_DATA_DIR)"] = path
    return samples


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])
