"""Simultaneous first visits to a fresh server: eight browser sessions open different pages of a
just-started `streamlit run app.py` at the same moment, some uploading a photo straight away.

Guards the issue where one session's first page imported pages/widgets.py while another's import
of it was cut short by a rerun: pages then showed `ImportError: cannot import name ... from
pages.widgets` and the sidebar fell back to Streamlit's file list ("app", "widgets"). The race only
exists before the first page has run, so each round starts a new server process.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser_harness import CHROMIUM, CHROMIUM_FLAGS, log_tail, require_chromium, streamlit_server

pytestmark = pytest.mark.slow  # three servers, eight browser sessions each: minutes

SERVERS = 3
ALL_DONE_S = 240  # the first views load TensorFlow, PyTorch and the models, all eight sessions at once
SIDEBAR_S = 15  # how long a done page may take to draw its sidebar
PAGE_TITLES = ("Home", "Predict", "Detect", "Compare", "Explain", "Webcam", "Dashboard", "Data")  # app.py's
CAT_LABEL = r"^(lynx|tabby|tiger_cat|Egyptian_cat)$"  # MobileNetV2 hesitates between these on cat.jpg

# One call per poll and page: what the page shows, and whether its script run is over (Streamlit
# shows the status widget while a run is going and marks elements of the previous run as stale)
SNAPSHOT_JS = """() => {
    const main = document.querySelector('[data-testid=stMain]');
    return {
        exceptions: document.querySelectorAll('[data-testid=stException]').length,
        running: document.querySelectorAll('[data-testid=stStatusWidget], [data-stale=true]').length > 0,
        uploader: document.querySelectorAll('input[type=file]').length > 0,
        nav: document.querySelector('[data-testid=stSidebarNav]')?.innerText ?? '',
        headings: main ? [...main.querySelectorAll('h1, h2, h3')].map(heading => heading.innerText.trim()) : [],
        main: main?.innerText ?? document.body.innerText,
    };
}"""


@dataclass
class Visit:
    """One browser session's first view of `path`: done once its script run is over, with each of
    `headings` among its headings and each of `texts` (regular expressions, ^ and $ at line ends)
    found in its main area's text."""

    path: str
    headings: tuple[str, ...]
    texts: tuple[str, ...] = ()
    photo: str | None = None
    page: object = None
    uploaded: bool = False
    done_after: float | None = None
    shown: dict = field(default_factory=dict)

    def is_done(self) -> bool:
        shown = self.shown
        return ((not self.photo or self.uploaded) and not shown.get("running", True)
                and all(heading in shown["headings"] for heading in self.headings)
                and all(re.search(text, shown["main"], re.MULTILINE) for text in self.texts))

    def describe(self) -> str:
        text = re.sub(r"\s*\n\s*", " | ", self.shown.get("main", "(nothing yet)"))
        return f"/{self.path} (photo {self.photo}): {text[:1200]!r}; sidebar: {self.shown.get('nav', '')!r}"


def first_visits() -> list[Visit]:
    # An upload's file name becomes a subheading only in a run that used the upload (the uploader's
    # own list of files is no heading), so each upload's answers are expected under its name: the
    # samples these pages start with are a different cat, and the same bus
    return [
        Visit("predict", ("Predict", "dog.jpg", "Samoyed"), photo="dog"),
        Visit("predict", ("Predict", "cat.jpg"), (CAT_LABEL,), photo="cat"),
        Visit("detect", ("Detect", "bus.jpg"), (r"\bbus ×1\b",), photo="bus"),
        Visit("detect", ("Detect", "dog.jpg"), (r"\bdog ×1\b",), photo="dog"),
        Visit("compare", ("Compare",), ("Do they agree",)),
        Visit("explain", ("Explain",), ("for random maps",)),
        Visit("dashboard", ("Dashboard",), ("Mistakes of one confusion cell",)),
        Visit("data", ("Data",), ("Balanced",)),
    ]


def take_snapshot(visit: Visit) -> None:
    try:
        visit.shown = visit.page.evaluate(SNAPSHOT_JS)
    except Exception:  # noqa: BLE001 - the document is still being replaced: look again at the next poll
        visit.shown = {}


def visit_all_at_once(browser, url: str, visits: list[Visit], photo_paths: dict[str, Path], log: Path) -> float:
    """Open every visit in its own browser context (its own Streamlit session), all navigations
    issued before any is waited on; upload each photo as soon as its page shows the uploader; poll
    until every page is done. Returns the seconds that took; fails at the first exception shown."""
    start = time.monotonic()
    for visit in visits:
        visit.page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        visit.page.goto(f"{url}/{visit.path}", wait_until="commit")
    while time.monotonic() - start < ALL_DONE_S:
        for visit in (v for v in visits if v.done_after is None):
            take_snapshot(visit)
            if visit.shown.get("exceptions"):
                pytest.fail(f"an exception is shown on {visit.describe()}\nserver log: {log_tail(log)}")
            if visit.photo and not visit.uploaded and visit.shown.get("uploader"):
                visit.page.locator("input[type=file]").set_input_files(str(photo_paths[visit.photo]))
                visit.uploaded = True
            elif visit.is_done():
                visit.done_after = time.monotonic() - start
        if all(visit.done_after is not None for visit in visits):
            return time.monotonic() - start
        time.sleep(0.5)
    waiting = "\n".join(visit.describe() for visit in visits if visit.done_after is None)
    pytest.fail(f"not done within {ALL_DONE_S} s:\n{waiting}\nserver log: {log_tail(log)}")


def check_final_state(visit: Visit, log: Path) -> None:
    """Once every page is done, each must still be: no exception, its content, and the app's own
    navigation in the sidebar. The sidebar can be drawn a second after a page's content, so it
    gets a few seconds to arrive (the defect's fallback, Streamlit's file list, never goes away)."""
    deadline = time.monotonic() + SIDEBAR_S
    while True:
        take_snapshot(visit)
        nav = visit.shown.get("nav", "").splitlines()
        missing = [title for title in PAGE_TITLES if title not in nav]
        if (not missing and visit.is_done()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    context = f"on {visit.describe()}\nserver log: {log_tail(log)}"
    assert not visit.shown.get("exceptions"), f"an exception is shown {context}"
    assert not missing and "widgets" not in nav, f"the sidebar lacks the app's pages {missing} {context}"
    assert visit.is_done(), f"the page changed after it was done {context}"


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def test_simultaneous_first_visits_to_fresh_servers(weights_dir, data_dir, photo_paths, browser, tmp_path):
    for round_number in range(1, SERVERS + 1):
        log = tmp_path / f"server{round_number}.log"
        visits = first_visits()
        with streamlit_server(log) as url:  # a new one: the race exists only before a page has run
            try:
                seconds = visit_all_at_once(browser, url, visits, photo_paths, log)
                for visit in visits:
                    check_final_state(visit, log)
            finally:
                for visit in visits:
                    if visit.page is not None:
                        visit.page.context.close()
        times = ", ".join(f"/{visit.path} {visit.done_after:.0f} s" for visit in visits)
        print(f"\nserver {round_number}: all {len(visits)} pages done after {seconds:.1f} s ({times})")
