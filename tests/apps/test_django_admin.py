"""Django's admin, from a stock ``django-admin startproject`` (only ALLOWED_HOSTS and
CSRF_TRUSTED_ORIGINS set, to the URL the agent printed), used in headless Chromium through that
URL in both forms: the redirect to the login page keeps the tunnel's URL, the admin's
stylesheets load and apply, the login and the add-user form pass Django's CSRF checks, and the
app answers nothing 4xx along the way."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.apps import pages, servers
from tests.browser.conftest import wait_until

WAIT = 15.0
NEW_USER = "newbie"
NEW_PASSWORD = "a-long-password-for-newbie-42"


def find(driver, selector: str):
    return wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, selector), WAIT)[0]


def loaded(driver) -> bool:
    return driver.execute_script("return document.readyState") == "complete"


def said(driver) -> str:
    """Where the browser is and what the page says, for a failure's message."""
    text = driver.find_element(By.TAG_NAME, "body").text
    return f"at {driver.current_url}: {driver.title!r}: {text[:300]!r}"


def test_the_admin_logs_in_and_adds_a_user(django_site, browser):
    url = django_site.url
    browser.get(f"{url}/admin/")
    # Django redirects to /admin/login/?next=/admin/; the tunnel gives the path its prefix back
    # (the path form), so the browser stays on the tunnel's URL.
    assert browser.current_url == f"{url}/admin/login/?next=/admin/", browser.title
    find(browser, "#login-form")

    # Every stylesheet the page links was served (by absolute paths, /static/admin/...) and
    # parsed, and base.css is applied: the header is its flex bar, not a plain block.
    linked = pages.stylesheets(browser)
    assert any(href.endswith("/admin/css/base.css") for href, _ in linked), linked
    assert [href for href, rules in linked if rules <= 0] == [], linked
    assert pages.computed(browser, "#header", "display") == "flex"
    assert pages.computed(browser, "#header", "background-color") != "rgba(0, 0, 0, 0)"
    assert pages.failed(browser) == []

    find(browser, "#id_username").send_keys("admin")
    find(browser, "#id_password").send_keys(servers.ADMIN_PASSWORD)
    login_page = browser.current_url
    find(browser, '#login-form [type="submit"]').click()
    # Logged in: the admin's index, again at the tunnel's URL (the login's redirect to /admin/).
    wait_until(lambda: browser.current_url != login_page and loaded(browser), WAIT)
    assert browser.current_url == f"{url}/admin/", said(browser)
    find(browser, 'a.addlink[href$="/admin/auth/user/add/"]').click()

    find(browser, "#user_form #id_username").send_keys(NEW_USER)
    find(browser, "#id_password1").send_keys(NEW_PASSWORD)
    find(browser, "#id_password2").send_keys(NEW_PASSWORD)
    find(browser, '#user_form [name="_save"]').click()

    wait_until(lambda: "/add/" not in browser.current_url and loaded(browser), WAIT)
    success = browser.find_elements(By.CSS_SELECTOR, ".messagelist li.success")
    assert success, said(browser)
    [success] = success
    assert f"The user “{NEW_USER}” was added successfully" in success.text
    assert pages.failed(browser) == []

    # The app's own log: the whole flow, nothing answered 4xx (or 5xx).
    django_site.app.wait_for(r'"GET /admin/auth/user/\d+/change/ HTTP/1\.1" 200 ')
    served = servers.django_requests(django_site.app)
    expected = [
        ("GET", "/admin/", 302),
        ("GET", "/admin/login/?next=/admin/", 200),
        ("GET", "/static/admin/css/base.css", 200),
        ("POST", "/admin/login/?next=/admin/", 302),
        ("GET", "/admin/auth/user/add/", 200),
        ("POST", "/admin/auth/user/add/", 302),
    ]
    assert [request for request in expected if request not in served] == [], served
    assert [r for r in served if r[2] >= 400 and r[1] not in pages.BROWSER_OWN] == [], served
