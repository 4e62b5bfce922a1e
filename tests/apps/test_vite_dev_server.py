"""Vite's dev server, the stock vanilla app (only ``server.allowedHosts`` set, to the host of the
URL the agent printed), in headless Chromium through that URL in both forms: the page is built
by its module scripts (``/@vite/client``, ``/src/main.js``: absolute paths), its CSS applies, its
images load, and the counter counts."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.apps import pages
from tests.browser.conftest import wait_until

WAIT = 15.0


def test_the_vite_app_renders_and_its_script_runs(vite_app, browser):
    browser.get(f"{vite_app.url}/")
    # main.js writes the page: the heading and the counter are there only if it ran.
    heading = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#app h1"), WAIT)[0]
    assert heading.text == "Hello Vite!"
    wait_until(lambda: browser.find_element(By.ID, "counter").text == "count is 0", WAIT)

    browser.find_element(By.ID, "counter").click()
    wait_until(lambda: browser.find_element(By.ID, "counter").text == "count is 1", WAIT)
    browser.find_element(By.ID, "counter").click()
    wait_until(lambda: browser.find_element(By.ID, "counter").text == "count is 2", WAIT)

    # style.css, imported by main.js, is applied (Vite's client injects it), and both logos
    # (/vite.svg from public/, /src/javascript.svg) loaded.
    assert pages.computed(browser, "#app", "text-align") == "center"
    logos = browser.execute_script(
        "return [...document.querySelectorAll('img.logo')]"
        ".map(img => [img.getAttribute('src'), img.complete && img.naturalWidth > 0]);"
    )
    assert len(logos) == 2 and all(shown for _, shown in logos), logos
    assert pages.failed(browser) == []
    fetched = [name for name, _ in pages.loaded(browser)]
    assert any(name.endswith("/@vite/client") for name in fetched), fetched
    assert any(name.endswith("/src/main.js") for name in fetched), fetched
