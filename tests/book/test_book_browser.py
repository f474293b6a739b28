"""The built book as a reader's browser shows it: headless Chromium opens every page over HTTP.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the ``selenium`` client. Where they
are missing the test is skipped, unless ``DOLPHIN_AE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which
makes a missing browser a failure. Screenshots go to ``DOLPHIN_AE_ARTIFACTS`` (``.ci/run`` points it
at ``ci-artifacts/``), or to the test's temporary folder.
"""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PAGES = ("intro", "90_summary", "01_data", "02_autoencoder", "03_silence", "04_embedding", "05_clustering",
         "06_discovery", "07_models", "08_field", "99_reproducibility")
# Pages whose readers listen: each must carry at least one playable audio element.
AUDIO_PAGES = ("01_data", "05_clustering", "08_field")
# Pages that are text and tables only.
TEXT_PAGES = ("intro", "90_summary", "99_reproducibility")
SCREENSHOT_PAGES = ("90_summary", "03_silence")

# Every <img> that has finished loading with a real picture in it, and every one that has not.
IMAGES_SCRIPT = """
const images = Array.from(document.images);
return {total: images.length,
        broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 120))};
"""
# Loads every <audio> element and reports, per element, its duration or the error it met.
AUDIO_SCRIPT = """
const done = arguments[arguments.length - 1];
const players = Array.from(document.querySelectorAll("audio"));
const results = players.map(player => new Promise(resolve => {
  if (player.readyState >= 1) { resolve({duration: player.duration}); return; }
  player.addEventListener("loadedmetadata", () => resolve({duration: player.duration}), {once: true});
  player.addEventListener("error", () => resolve({error: String(player.error && player.error.code)}), {once: true});
  player.preload = "metadata";
  player.load();
}));
Promise.all(results).then(done);
"""


def _browser_paths():
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    return browser, driver


def _skip_or_fail(reason):
    if os.environ.get("DOLPHIN_AE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and DOLPHIN_AE_REQUIRE_BROWSER=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
    except ImportError:
        _skip_or_fail("the selenium package is not installed")
    chromium, chromedriver = _browser_paths()
    if chromium is None or chromedriver is None:
        _skip_or_fail("Debian's chromium and chromium-driver packages are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-extensions", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromedriver))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def book_url(built_run):
    """The built HTML book served on the loopback address, as a static host would serve it."""
    html = built_run / "book" / "_build" / "html"
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = os.environ.get("DOLPHIN_AE_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open(driver, url):
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete", url
    return driver


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_with_its_figures_and_audio(browser, book_url, page):
    _open(browser, f"{book_url}/{page}.html")
    headings = [h.text.strip() for h in browser.find_elements("css selector", "article h1") if h.is_displayed()]
    assert headings and headings[0] and browser.title.startswith(headings[0]), f"{page}: no visible heading"
    images = browser.execute_script(IMAGES_SCRIPT)
    assert images["broken"] == [], f"{page}: images that did not load: {images['broken']}"
    if page not in TEXT_PAGES:
        assert images["total"] > 0, f"{page} shows no figure"
    players = browser.execute_async_script(AUDIO_SCRIPT)
    failed = [p for p in players if "error" in p or not p.get("duration", 0) > 0]
    assert failed == [], f"{page}: audio that did not load: {failed}"
    if page in AUDIO_PAGES:
        assert players, f"{page} has no audio player"
    errors = [entry["message"] for entry in browser.get_log("browser")
              if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]
    assert errors == [], f"{page}: the browser reported errors: {errors}"


def test_the_summary_states_the_headline_numbers(browser, book_url, artifacts):
    _open(browser, f"{book_url}/90_summary.html")
    text = browser.find_element("css selector", "main").text
    assert "balanced accuracy" in text.lower()
    table = browser.find_elements("css selector", "main table")
    assert table, "the summary page has no results table"
    for page in SCREENSHOT_PAGES:
        _open(browser, f"{book_url}/{page}.html")
        path = artifacts / f"book_{page}.png"
        assert browser.save_screenshot(str(path)), path
        assert path.stat().st_size > 10_000, f"{path} is nearly empty"
