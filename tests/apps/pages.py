"""What a page in Chromium says about how it loaded."""

from __future__ import annotations

from urllib.parse import urlsplit

# Chromium asks every site for /favicon.ico on its own (Resource Timing lists it when it lands
# in time); a stock app may have none (Django's answers 404). Not the page's doing.
BROWSER_OWN = {"/favicon.ico"}

# The page and everything it fetched, with the HTTP status Chromium got (Resource Timing's
# responseStatus; every resource here is of the page's own origin, so none reads 0).
LOADED = """
return performance.getEntriesByType('navigation')
  .concat(performance.getEntriesByType('resource'))
  .map(entry => [entry.name, entry.responseStatus]);
"""
# Each stylesheet the page links: its href and how many rules Chromium parsed from it (-1: none
# loaded; a stylesheet answered with an error or a wrong type is not applied).
STYLESHEETS = """
return [...document.querySelectorAll('link[rel="stylesheet"]')]
  .map(link => [link.getAttribute('href'), link.sheet ? link.sheet.cssRules.length : -1]);
"""


def loaded(driver: object) -> list[tuple[str, int]]:
    return [tuple(pair) for pair in driver.execute_script(LOADED)]


def failed(driver: object) -> list[tuple[str, int]]:
    """What the page fetched that was not answered 200 (or 304, from the cache)."""
    return [
        (url, status)
        for url, status in loaded(driver)
        if status not in (200, 304) and urlsplit(url).path not in BROWSER_OWN
    ]


def stylesheets(driver: object) -> list[tuple[str, int]]:
    return [tuple(pair) for pair in driver.execute_script(STYLESHEETS)]


def computed(driver: object, selector: str, property_name: str) -> str:
    return driver.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0]))"
        ".getPropertyValue(arguments[1]);",
        selector,
        property_name,
    )
