"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, `make browser`)
driven by selenium, and a page object for the inspector's page.

Selenium is given both paths, so selenium-manager never looks for (or downloads) a browser;
the flags keep Chromium off the network, which is closed here.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)
WAIT_SECONDS = 10.0


@pytest.fixture(scope="session")
def driver() -> Iterator[object]:
    """One headless Chromium for the session (pages are reloaded per test)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Chromium is missing: run `make browser` (Debian's chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="inspector-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        browser = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        try:
            yield browser
        finally:
            browser.quit()


def wait_until(predicate: Callable[[], object], timeout: float = WAIT_SECONDS) -> object:
    """``predicate()``'s first truthy value; AssertionError after ``timeout``."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except StaleElementReferenceException:  # the list was redrawn meanwhile
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)


class InspectorPage:
    """The inspector's page, by its ids and data-testid attributes."""

    def __init__(self, driver: object, url: str) -> None:
        self.driver = driver
        self.url = url

    def load(self) -> InspectorPage:
        self.driver.get(self.url)
        wait_until(lambda: self.text("live") == "live")
        return self

    def find(self, testid: str) -> object:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def find_all(self, testid: str, within: object | None = None) -> list:
        from selenium.webdriver.common.by import By

        return (within or self.driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def text(self, testid: str) -> str:
        return self.find(testid).text

    def rows(self) -> list[dict[str, str]]:
        """The list, top (newest) first: id, method, path, status, whether a replay."""
        from selenium.webdriver.common.by import By

        listed = []
        for row in self.find_all("request-row"):
            cells = row.find_elements(By.TAG_NAME, "td")
            listed.append(
                {
                    "id": row.get_attribute("data-id"),
                    "method": cells[1].text,
                    "path": cells[2].get_attribute("title"),
                    "status": cells[3].text,
                    "replay": bool(self.find_all("replay-badge", row)),
                }
            )
        return listed

    def wait_rows(self, count: int) -> list[dict[str, str]]:
        return wait_until(lambda: (rows := self.rows()) and len(rows) == count and rows)

    def open(self, index: int) -> None:
        """Select the ``index``-th row (0: the newest) and wait for its detail."""

        def click() -> str:
            row = self.find_all("request-row")[index]
            wanted = row.get_attribute("data-id")
            row.click()
            return wanted

        wanted = wait_until(click)  # the list may be redrawn under the click: again, then
        wait_until(lambda: self.find("detail").is_displayed() and self.selected_id() == wanted)
        wait_until(
            lambda: self.driver.execute_script("return state.detail && state.detail.id") == wanted
        )

    def selected_id(self) -> str:
        from selenium.webdriver.common.by import By

        selected = self.driver.find_elements(By.CSS_SELECTOR, "#requests tr.selected")
        return selected[0].get_attribute("data-id") if selected else ""

    def headers(self, side: str) -> list[tuple[str, str]]:
        """``side``: "request" or "response"; every header pair shown, in order."""
        from selenium.webdriver.common.by import By

        pairs = []
        for row in self.find_all(f"{side}-header"):
            name, value = row.find_elements(By.TAG_NAME, "td")
            pairs.append((name.text, value.text))
        return pairs

    def body(self, side: str, kind: str) -> str:
        """The text of ``side``'s body shown as ``kind`` (body-json, body-hex, body-text...)."""
        container = self.find(f"{side}-body")
        return wait_until(lambda: self.find_all(kind, container))[0].text

    def replay(self) -> None:
        self.find("action-status")
        self.driver.execute_script("document.getElementById('action-status').textContent = ''")
        self.find("replay").click()
        wait_until(lambda: self.text("action-status").startswith("Replay"))
        assert self.text("action-status") == "Replayed", self.text("action-status")

    def replay_edited(self, method: str, path: str, body: str) -> None:
        self.find("replay-edit").click()
        for testid, value in (("edit-method", method), ("edit-path", path), ("edit-body", body)):
            field = self.find(testid)
            field.clear()
            field.send_keys(value)
        self.find("edit-send").click()
        wait_until(lambda: self.text("action-status").startswith("Replay"))
        assert self.text("action-status") == "Replayed", self.text("action-status")

    def curl(self, target: str = "public") -> str:
        from selenium.webdriver.support.ui import Select

        Select(self.find("curl-target")).select_by_value(target)
        self.find("copy-curl").click()
        return wait_until(lambda: self.text("curl-command"))

    def filter(self, path: str = "", method: str = "", status: str = "") -> None:
        from selenium.webdriver.support.ui import Select

        for testid, value in (("filter-path", path), ("filter-status", status)):
            field = self.find(testid)
            field.clear()
            if value:
                field.send_keys(value)
        Select(self.find("filter-method")).select_by_value(method)
