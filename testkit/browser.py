"""A real headless Chromium (Debian's `chromium` and `chromium-driver`, `make
system-packages`) driven through Selenium, for the console's browser tests, the README's
screenshot and the console's benchmark.

`console_browser()` starts one; `login(driver, base_url, token)` signs in through the login
page as a person does; `screenshot(driver, name)` writes a PNG under `.artifacts/console/`
(git-ignored), the test run's artefacts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from testkit.polling import wait_until
from testkit.process import ROOT

ARTIFACTS = ROOT / ".artifacts" / "console"
# Debian's names for the browser and its driver.
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = ("chromedriver",)


class BrowserMissing(RuntimeError):
    """Chromium or its driver is not installed (`make system-packages` installs them)."""


def _which(names: tuple[str, ...]) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/lib/chromium")
        if found:
            return found
    raise BrowserMissing(
        f"none of {', '.join(names)} is installed: run `make system-packages` "
        "(Debian's chromium and chromium-driver)"
    )


def console_browser(width: int = 1400, height: int = 1000) -> WebDriver:
    """A headless Chromium with its own profile, no network beyond what pages ask for."""
    options = webdriver.ChromeOptions()
    options.binary_location = _which(CHROMIUM)
    for argument in (
        "--headless=new",
        f"--window-size={width},{height}",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to sandbox as root
    return webdriver.Chrome(options=options, service=Service(_which(CHROMEDRIVER)))


def login(driver: WebDriver, base_url: str, token: str, page: str = "/ui/runs") -> None:
    """Signs in on the login page (pasting `token`) and lands on `page`."""
    driver.get(f"{base_url}/ui/login?next={page}")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.find_elements(By.ID, "who"), 15, what="the console after login")


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def mark_page(driver: WebDriver) -> None:
    """Marks the loaded document, so `same_page` can tell that no reload happened since."""
    driver.execute_script("window.__consoleMark = true;")


def same_page(driver: WebDriver) -> bool:
    return bool(driver.execute_script("return window.__consoleMark === true;"))


def texts(driver: WebDriver, selector: str) -> list[str]:
    """The text of every element `selector` matches, read in one script: an htmx swap
    between finding an element and reading it cannot make it stale."""
    found = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);",
        selector,
    )
    return [str(text) for text in found or []]


def wait_for_text(
    driver: WebDriver, selector: str, expected: str, timeout: float = 30.0, what: str = ""
) -> list[str]:
    """Until an element `selector` matches holds `expected` in its text; their texts."""

    def probe() -> list[str] | None:
        found = texts(driver, selector)
        return found if any(expected in text for text in found) else None

    return wait_until(probe, timeout, what=what or f"'{expected}' in {selector}")
