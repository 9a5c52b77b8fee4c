"""The sample's sign-in flow in a real browser: headless Debian chromium driving `epctl serve` of
develop with no variable exported (README's set-up), after `epctl users add`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.signin.servers import PASSWORD, add_user, clean_environ, running_server

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver; "
        ".ci/run installs them)",
        allow_module_level=True,
    )

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402 (after the skip: selenium may be missing)
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

# How long a form's submission may take to bring the next page (a sign-in hashes the password).
SUBMIT_SECONDS = 30
# What chromium says of an element whose page is gone, or that it cannot resolve a moment after
# finding it: an "unknown error", not the StaleElementReferenceException selenium's own waits expect.
DETACHED = "does not belong to the document"
# A global set on the form's page only: the page a navigation brings has a new window object.
FORM_PAGE = "window.epctlFormPage"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(browser: WebDriver, url: str, email: str) -> None:
    browser.get(f"{url}/login")
    browser.find_element(By.NAME, "email").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    submit(browser, "form[action='/login'] button")


def submit(browser: WebDriver, selector: str) -> None:
    """Click the submit button at `selector` and wait for the page it brings: `click` returns once the
    click is dispatched, and on a busy machine the form's reply may not be in yet.

    The wait asks the browser whether the form's page is gone instead of asking about the button,
    which chromium answers with an error once its page is gone. A click chromium could not dispatch
    (the button found a moment before does not resolve) is tried again, at most three times.
    """
    browser.execute_script(f"{FORM_PAGE} = true")
    for attempt in range(3):
        try:
            browser.find_element(By.CSS_SELECTOR, selector).click()
            break
        except WebDriverException as err:  # StaleElementReferenceException is one too
            detached = isinstance(err, StaleElementReferenceException) or DETACHED in str(err)
            if not detached or attempt == 2:
                raise
            if shows_next_page(browser):
                break
    # While the next page loads, a script may fail to run: ask again until the wait runs out.
    wait = WebDriverWait(browser, SUBMIT_SECONDS, ignored_exceptions=(WebDriverException,))
    wait.until(shows_next_page, f"the form at {selector!r} brought no page in {SUBMIT_SECONDS} s")


def shows_next_page(browser: WebDriver) -> bool:
    """Whether the browser has left the form's page and loaded the next one."""
    script = f"return {FORM_PAGE} !== true && document.readyState === 'complete'"
    return bool(browser.execute_script(script))


@pytest.mark.timeout(240)
def test_sign_in_greeting_admins_page_and_sign_out(sample: Path, tmp_path: Path, browser: WebDriver) -> None:
    shutil.rmtree(sample / ".epctl", ignore_errors=True)
    environ = clean_environ()
    add_user(sample, "ada@example.com", environ, "--name", "Ada", "--group", "admins")
    add_user(sample, "bob@example.com", environ, "--name", "Bob")
    log = tmp_path / "serve.log"
    with running_server(sample, log, environ) as url:
        # A page that needs a user sends a visitor to the login page first.
        browser.get(f"{url}/welcome")
        assert browser.current_url == f"{url}/login?next=/welcome"

        sign_in(browser, url, "ada@example.com")
        assert browser.current_url == f"{url}/welcome"
        assert browser.find_element(By.ID, "greeting").text == "Hello, Ada!"
        cookie = browser.get_cookie("authorization")
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert browser.execute_script("return document.cookie") == ""  # out of scripts' reach

        browser.get(f"{url}/admin")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Admin"

        submit(browser, "form[action='/logout'] button")
        assert browser.current_url == f"{url}/login"
        assert browser.get_cookie("authorization") is None
        browser.get(f"{url}/welcome")
        assert browser.current_url == f"{url}/login?next=/welcome"

        # Without the group, the admins page answers with the login page and 403.
        sign_in(browser, url, "bob@example.com")
        assert browser.find_element(By.ID, "greeting").text == "Hello, Bob!"
        browser.get(f"{url}/admin")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"

        # A wrong password shows the form again, with one message for every failure.
        browser.delete_all_cookies()
        browser.get(f"{url}/login")
        browser.find_element(By.NAME, "email").send_keys("ada@example.com")
        browser.find_element(By.NAME, "password").send_keys("not the password")
        submit(browser, "form[action='/login'] button")
        failed = browser.find_element(By.ID, "failed").text
        assert failed == "Wrong email or password, or the account is locked."

    text = log.read_text()
    assert "EPCTL_SECRET is not set: signing sessions with a random secret of this process" in text
    assert PASSWORD not in text and PASSWORD.replace(" ", "+") not in text
    assert "not the password" not in text and "not+the+password" not in text
