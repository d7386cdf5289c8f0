"""``index.html`` in headless Chromium: rendered tables and images, sorting by click, no errors, no network.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and ``selenium``. Without them the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from unavailable import unavailable

from bench.publish import publish

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1600",
)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists() and not shutil.which(path.name):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def driver(tmp_path):
    missing = _missing()
    if missing:
        unavailable(f"headless Chromium test cannot run: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(str(CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")))
    browser = webdriver.Chrome(service=service, options=options)
    try:
        yield browser
    finally:
        browser.quit()


def _requests(browser) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _column(browser, table, index: int, sort_key: bool = False) -> list[str]:
    """The column's cell texts, or the values the page sorts them by."""
    read = "c.dataset.sort" if sort_key else "c.textContent.trim()"
    return browser.execute_script(
        "return Array.from(arguments[0].tBodies[0].rows)"
        f".map(r => {{ const c = r.cells[arguments[1]]; return {read}; }});",
        table,
        index,
    )


def test_the_page_renders_sorts_and_stays_offline(bench, driver, tmp_path):
    from selenium.webdriver.common.by import By

    publish(bench.store, "synthetic", bench.out)
    page = (bench.out / "synthetic" / "index.html").resolve()
    driver.get("about:blank")
    driver.get_log("performance")  # the browser's own start-up pages are not the page's requests
    driver.get_log("browser")
    driver.get(page.as_uri())
    driver.execute_script("return document.readyState")

    tables = driver.find_elements(By.CSS_SELECTOR, "table.board")
    assert len(tables) == 2 and all(t.is_displayed() for t in tables)
    assert len(tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")) == 5
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.boxplot")) == 2
    images = driver.find_elements(By.CSS_SELECTOR, "table.gallery img")
    assert len(images) > 20
    widths = [driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) for i in images]
    assert all(w and w > 0 for w in widths), widths
    marked = tables[0].find_elements(By.CSS_SELECTOR, "tr.mark-oracle .mark-oracle")
    assert [m.text for m in marked] == ["oracle (upper bound)"]

    board = tables[0]
    headers = [h.text.strip() for h in board.find_elements(By.CSS_SELECTOR, "thead th")]
    dice = headers.index("DICE")
    row_order = _column(driver, board, headers.index("row"))
    before = [float(v) for v in _column(driver, board, dice)]
    numbered = [p != "" for p in _column(driver, board, headers.index("#"))]
    ranked = [v for v, n in zip(before, numbered, strict=True) if n]
    assert numbered == sorted(numbered, reverse=True)  # ranked rows first ...
    assert ranked == sorted(ranked, reverse=True)  # ... best mean first
    board.find_elements(By.CSS_SELECTOR, "thead th")[dice].click()
    after = [float(v) for v in _column(driver, board, dice)]
    assert after == sorted(before) and _column(driver, board, headers.index("row")) != row_order
    header = board.find_elements(By.CSS_SELECTOR, "thead th")[dice]
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [float(v) for v in _column(driver, board, dice)] == sorted(before, reverse=True)
    protocol = headers.index("protocol")
    board.find_elements(By.CSS_SELECTOR, "thead th")[protocol].click()
    names = _column(driver, board, protocol, sort_key=True)
    assert names == sorted(names, key=str.lower) and len(set(names)) == 4

    shot = tmp_path / "index.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    requests = _requests(driver)
    assert requests and all(url.startswith(("file://", "data:")) for url in requests), requests
    assert any(url.endswith(".png") for url in requests)
