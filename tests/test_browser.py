"""End to end in a real browser: `streamlit run app.py`, driven by Playwright in Debian's Chromium.

Screenshots go to a temporary folder; their paths are printed (pytest -s shows them, and they
appear in the captured output of a failing test).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from browser_harness import CHROMIUM, CHROMIUM_FLAGS, require_chromium, streamlit_server

pytestmark = pytest.mark.slow  # a Streamlit server and a browser: minutes; the fast tier skips it

PAGE_TIMEOUT_MS = 240_000  # the first page view loads TensorFlow, PyTorch and the models
DASHBOARD_TABLE_S = 60  # /dashboard reads JSON files and loads no model: its table must come well before


@pytest.fixture(scope="module")
def server(weights_dir, data_dir, tmp_path_factory):
    with streamlit_server(tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def playwright():
    """One Playwright per module: its sync API cannot be started twice in one thread."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vision-screenshots-"))
    print(f"\nscreenshots in {folder}")
    return folder


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading").first.wait_for()
    return page, time.perf_counter() - start


def _settle(page) -> None:
    """Wait until the script run has finished and its images and charts are drawn."""
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden")
    page.wait_for_load_state("networkidle")


def _shoot(page, shots: Path, name: str) -> None:
    _settle(page)
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_detect_upload_shows_the_bus(server, browser, shots, photo_paths):
    page, seconds = _open(browser, f"{server}/detect")
    print(f"/detect first rendered in {seconds:.1f} s")
    nav = page.locator("[data-testid=stSidebarNav]").inner_text()
    assert "Predict" in nav and "widgets" not in nav, f"a deep link must get the app's navigation: {nav}"
    page.get_by_text("bus (Ultralytics)", exact=True).first.wait_for()  # the sample, until a file arrives
    start = time.perf_counter()
    page.locator("input[type=file]").set_input_files(str(photo_paths["bus"]))  # there on arrival: no click
    page.get_by_text("bus.jpg", exact=True).first.wait_for()
    _settle(page)  # the sample's results are replaced by the upload's
    page.get_by_text(re.compile(r"\bbus ×1\b")).wait_for()  # the per-class counts of the upload
    page.get_by_text(re.compile(r"\bperson ×[3-9]\b")).wait_for()
    print(f"/detect: detections of the upload shown {time.perf_counter() - start:.1f} s after it")
    _shoot(page, shots, "detect")
    assert page.locator("[data-testid=stImage] img").count() >= 1
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


@pytest.mark.parametrize("path, expected", [("predict", "tabby"), ("compare", "Do they agree?"), ("explain", "for random maps"),
                                            ("robustness", "Correlation of the two maps"),
                                            ("dashboard", "Mistakes of one confusion cell"), ("data", "Balanced")])
def test_pages_render_with_a_sample(server, browser, shots, path, expected):
    page, seconds = _open(browser, f"{server}/{path}")
    start = time.perf_counter()
    page.get_by_text(expected).first.wait_for()
    print(f"/{path}: heading after {seconds:.1f} s, first result {time.perf_counter() - start:.1f} s later")
    _shoot(page, shots, path)
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


def test_batch_runs_a_zip_of_class_folders_with_progress_and_downloads(server, browser, shots, data_dir, tmp_path):
    import zipfile

    archive = tmp_path / "cifar.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for label in ("cat", "ship"):
            for path in sorted((data_dir / "cifar10" / "test" / label).glob("*.jpg"))[:6]:
                zipped.write(path, f"{label}/{path.name}")
    page, _ = _open(browser, f"{server}/batch")
    page.get_by_text("Upload images or a zip file to start.").wait_for()
    page.locator("input[type=file]").set_input_files(str(archive))
    page.get_by_text("cifar.zip", exact=True).first.wait_for()
    page.get_by_role("button", name="Run").click()
    page.get_by_text("12 rows").wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"^12 images in [0-9.]+ s")).wait_for()  # the progress bar's last word
    page.get_by_text("Download CSV", exact=True).wait_for()
    page.get_by_text("Download parquet", exact=True).wait_for()
    assert page.locator("[data-testid=stDataFrame]").count() == 2  # the rows, and the counts per label
    page.locator(".js-plotly-plot").first.wait_for()  # their chart
    _shoot(page, shots, "batch")
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


def test_dashboard_table_appears_without_waiting_for_models(server, browser, shots):
    """The time from opening /dashboard to its summary table, on the real server. The script itself
    takes about a second (it loads no model); the browser's first view also loads and runs
    Streamlit's table and Plotly bundles, which on this 2-core machine takes most of the time."""
    start = time.perf_counter()
    page, heading = _open(browser, f"{server}/dashboard")
    page.locator("[data-testid=stDataFrame]").first.wait_for(timeout=DASHBOARD_TABLE_S * 1000)
    seconds = time.perf_counter() - start
    print(f"dashboard table after {seconds:.1f} s (heading after {heading:.1f} s)")
    # The gallery's images come without the models' answers, which wait for this toggle
    page.get_by_text("Show these images with each model's answer").wait_for(timeout=DASHBOARD_TABLE_S * 1000)
    _shoot(page, shots, "dashboard_table")
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


def write_y4m(path: Path, image: np.ndarray, frames: int = 30, size: tuple[int, int] = (640, 480)) -> Path:
    """A Y4M video of `image`: a text header, then per frame "FRAME\\n" and its I420 planes."""
    import cv2
    from PIL import Image

    width, height = size
    picture = np.asarray(Image.fromarray(image).resize(size))
    planes = cv2.cvtColor(picture, cv2.COLOR_RGB2YUV_I420).tobytes()
    with open(path, "wb") as stream:
        stream.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            stream.write(b"FRAME\n" + planes)
    return path


@pytest.fixture(scope="module")
def camera_browser(playwright, tmp_path_factory, photos):
    """Chromium with a fake camera that films bus.jpg, and camera permission granted."""
    video = write_y4m(tmp_path_factory.mktemp("camera") / "bus.y4m", photos["bus"])
    flags = CHROMIUM_FLAGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                              f"--use-file-for-fake-video-capture={video}"]
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
    yield chromium
    chromium.close()


class Watched:
    """A page whose browser console is kept, so that a failed wait can say what the page showed."""

    def __init__(self, page, shots: Path):
        self.page, self.shots, self.console = page, shots, []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text[:200]}"))

    def wait(self, locator, seconds: float, failure: str) -> None:
        try:
            locator.wait_for(timeout=seconds * 1000)
        except Exception as error:  # noqa: BLE001 - keep what the page showed, then fail with it
            self.page.screenshot(path=str(self.shots / "webcam_failed.png"))
            shown, console = self.page.locator("main").inner_text()[:600], self.console[-15:]
            raise AssertionError(f"{failure} within {seconds} s. Page: {shown!r}. Console: {console}") from error


def _take_photo(watched: Watched) -> None:
    """Press Take Photo once the camera has delivered a frame, and check a photo was taken.

    The button is enabled as soon as the camera is granted, but until the video's first frame is
    decoded the click captures nothing (react-webcam returns no screenshot): on a slow machine a
    click that comes too early is silently lost.
    """
    watched.page.wait_for_function("() => { const video = document.querySelector('[data-testid=stCameraInput] video');"
                                   " return video !== null && video.readyState >= 2 && video.videoHeight > 0; }")
    watched.page.get_by_role("button", name="Take Photo").click()
    watched.wait(watched.page.get_by_role("button", name="Clear photo"), 30, "Take Photo gave no photo")


def _start_live(watched: Watched) -> None:
    """Press START until the component starts (its button turns to Stop).

    In one local run of several, the first press left the component stopped with nothing logged, and
    a user would simply press again: the test does too, and says so, rather than fail on that alone.
    """
    frame = watched.page.frame_locator("iframe[title*=streamlit_webrtc]")
    start, stop = frame.get_by_role("button", name="START"), frame.get_by_role("button", name="STOP")
    for press in (1, 2):
        start.click()
        try:
            stop.wait_for(timeout=20_000)
            return
        except Exception:  # noqa: BLE001 - still stopped: press again
            print(f"/webcam live: START press {press} did not start the stream")
    start.click()
    watched.wait(stop, 20, "The third press of START did not start the stream")


def test_webcam_snapshot_and_live_with_a_fake_camera(server, camera_browser, shots):
    page, _ = _open(camera_browser, f"{server}/webcam")
    watched = Watched(page, shots)
    _take_photo(watched)
    detections = page.get_by_text(re.compile(r"\bbus ×1\b"))
    watched.wait(detections, PAGE_TIMEOUT_MS / 1000, "The photo's detections did not appear")
    print("/webcam snapshot: the fake camera's frame shows a bus")
    _shoot(page, shots, "webcam_snapshot")
    page.get_by_text("Live", exact=True).click()
    _start_live(watched)
    fps = page.locator("[data-testid=stMetric]").filter(has_text="Frames per second")
    watched.wait(fps, 90, "Live mode showed no frame rate")
    page.wait_for_timeout(3000)
    value = float(fps.locator("[data-testid=stMetricValue]").inner_text())
    print(f"/webcam live: {value} frames per second, {page.get_by_text(re.compile('^Frame [0-9]+:')).first.inner_text()}")
    page.screenshot(path=str(shots / "webcam_live.png"))  # the script runs while the video plays: no settling
    print(f"screenshot: {shots / 'webcam_live.png'}")
    assert value > 0
    page.close()


def test_a_verdict_on_predict_reaches_the_monitor_page(server, browser, shots):
    """"Right or wrong?" on /predict keeps the user's verdict; /monitor then shows the log."""
    page, _ = _open(browser, f"{server}/predict")
    page.get_by_text("tabby").first.wait_for()
    _settle(page)
    page.get_by_text("Right or wrong?").first.click()
    page.get_by_text("wrong", exact=True).first.click()
    page.get_by_role("button", name="Send").first.click()
    page.get_by_text("Thank you: your verdict (wrong) is kept in the prediction log.").wait_for()
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()
    page, _ = _open(browser, f"{server}/monitor")
    page.get_by_text("Predictions in the span").wait_for()
    page.get_by_text("Accuracy from feedback").wait_for()
    page.locator(".js-plotly-plot").nth(3).wait_for()  # volume, latency, confidence, labels
    _shoot(page, shots, "monitor")
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()
