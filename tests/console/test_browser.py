"""The web console in a real headless Chromium against a live platform (every app and
sidecar its own process): what a person sees and does, through the pages only.

One platform and one browser for the module (starting them is most of the cost); each test
places its own orders, so none depends on another's. Screenshots of each page land in
`.artifacts/console/` (testkit.browser).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from services.contracts.messages import Address, OrderLine, OrderPlaced
from services.contracts.names import EventType, Topic
from testkit.browser import (
    console_browser,
    login,
    mark_page,
    same_page,
    screenshot,
    texts,
    wait_for_text,
)
from testkit.platform import Platform, PlatformSettings
from testkit.polling import wait_until

CARD = "4242424242424242"
SKU = "SKU-UI"
APPROVER = "ana"  # holds the approver role; no order of these tests is hers
_numbers = itertools.count(1)


def _order(platform: Platform, customer: str, unit_price: int, country: str = "US") -> OrderPlaced:
    return OrderPlaced(
        order_id=f"ui-{customer}-{next(_numbers)}",
        customer_id=customer,
        items=[OrderLine(sku=SKU, quantity=1, unit_price_cents=unit_price)],
        payment_token=platform.token_for(CARD),
        shipping_address=Address(
            line1="1 Test Street", city="Springfield", postal_code="12345", country=country
        ),
    )


def _completed_order(platform: Platform, customer: str) -> str:
    """Places a small order and waits for its saga to complete; the saga's instance id."""
    order = _order(platform, customer, 1_000)
    platform.place_order(order)
    instance_id = f"order-{order.order_id}"
    platform.wait_run_status(instance_id, {"COMPLETED"}, timeout=60)
    return instance_id


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    root: Path = tmp_path_factory.mktemp("console-platform")
    # Approvals wait as long as a person would: the kit's 30 s default (made for the
    # approval-timeout tests) can run out while a loaded machine drives the browser.
    settings = PlatformSettings(inventory_seed={SKU: 1000}, approval_timeout_seconds=600)
    started = Platform(root, settings).start()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = console_browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def operator(platform: Platform, browser: WebDriver) -> WebDriver:
    """The browser, signed in as an operator who is also an approver."""
    browser.delete_all_cookies()
    login(browser, platform.api_url, platform.token(APPROVER, ["operator", "approver"]))
    return browser


def test_orders_placed_through_the_api_appear_in_the_runs_list_without_a_reload(
    platform: Platform, operator: WebDriver
) -> None:
    operator.get(f"{platform.api_url}/ui/runs")
    mark_page(operator)
    orders = [_order(platform, "dora", 1_500), _order(platform, "emil", 2_500)]
    for order in orders:
        platform.place_order(order)

    for order in orders:
        rows = wait_for_text(operator, "#runs tbody tr", f"order-{order.order_id}", 30)
        row = next(text for text in rows if f"order-{order.order_id}" in text)
        assert order.customer_id in row
    # ... and they finish on screen too, still without a reload.
    for order in orders:
        wait_for_text(operator, f"tr[data-instance='order-{order.order_id}']", "COMPLETED", 60)
    assert same_page(operator), "the page was reloaded"
    screenshot(operator, "runs-live")

    # The search narrows to one customer's runs, the newest first.
    search = operator.find_element(By.ID, "search")
    search.send_keys("emil")
    operator.find_element(By.ID, "apply-filters").click()
    wait_until(lambda: "q=emil" in operator.current_url, 15, what="the search applied")
    shown = texts(operator, "#runs tbody tr td:first-child")
    assert shown
    assert all("emil" in text for text in shown), shown


def test_a_large_order_approved_from_the_inbox_turns_completed_on_screen(
    platform: Platform, operator: WebDriver
) -> None:
    order = _order(platform, "fred", 150_000)
    platform.place_order(order)
    platform.wait_run_status(f"approval-{order.order_id}", {"RUNNING"}, timeout=30)

    run_tab = operator.current_window_handle
    operator.get(f"{platform.api_url}/ui/runs/order-{order.order_id}")
    wait_for_text(operator, "#custom-status", "awaiting_approval", 30)
    mark_page(operator)

    operator.switch_to.new_window("tab")
    operator.get(f"{platform.api_url}/ui/approvals")
    row = f"tr[data-order='{order.order_id}']"
    [pending] = wait_for_text(operator, row, order.order_id, 30)
    assert "1,500.00 USD" in pending
    assert "fred" in pending
    screenshot(operator, "approvals-inbox")
    operator.find_element(By.CSS_SELECTOR, f"{row} input[name='reason']").send_keys("known buyer")
    operator.find_element(By.CSS_SELECTOR, f"{row} button.approve").click()
    wait_for_text(operator, ".accepted", f"approve: accepted (202) for order {order.order_id}", 60)
    # The decision is listed with who made it and why, and the order leaves the pending list;
    # the answer to the click stays on screen through those live updates.
    wait_for_text(operator, "table.decisions tbody tr", order.order_id, 30)
    [decision] = [t for t in texts(operator, "table.decisions tbody tr") if order.order_id in t]
    assert APPROVER in decision
    assert "known buyer" in decision
    wait_until(lambda: not texts(operator, row), 30, what="the approved order left the inbox")
    assert texts(operator, ".accepted") == [f"approve: accepted (202) for order {order.order_id}"]
    operator.close()  # the inbox's tab

    operator.switch_to.window(run_tab)
    wait_for_text(operator, "#run-status", "COMPLETED", 60)
    assert same_page(operator), "the run's page was reloaded"
    screenshot(operator, "approved-run")


def test_a_compensated_sagas_page_shows_its_reversed_steps(
    platform: Platform, operator: WebDriver
) -> None:
    order = _order(platform, "gina", 3_000, country="BR")  # no shipping there: compensates
    platform.place_order(order)
    run = platform.wait_run_status(f"order-{order.order_id}", {"COMPLETED"}, timeout=60)
    assert run["output"]["outcome"] == "compensated"

    operator.get(f"{platform.api_url}/ui/runs/order-{order.order_id}")
    [summary] = wait_for_text(operator, "#reverse-order", "compensated in reverse", 30)
    assert summary == (
        "steps reserve → charge → ship; compensated in reverse: "
        "refund (undoes charge) → release (undoes reserve)"
    )
    marked = operator.execute_script(
        "return Array.from(document.querySelectorAll('#timeline li.compensation'),"
        " li => [li.dataset.compensation, li.dataset.undoes]);"
    )
    # Each compensation is sent, then acknowledged; the charge is undone before the reserve.
    assert [tuple(pair) for pair in marked] == [
        ("1", "charge"),
        ("1", "charge"),
        ("2", "reserve"),
        ("2", "reserve"),
    ]
    entries = texts(operator, "#timeline li")
    assert entries.index(next(e for e in entries if "reply: shipping.failed" in e)) < entries.index(
        next(e for e in entries if "compensation 1: payment.refund" in e)
    )
    # The Mermaid diagram is drawn as a picture by the locally served mermaid.
    wait_until(
        lambda: operator.find_elements(By.CSS_SELECTOR, "#diagram svg"), 30, what="the diagram"
    )
    screenshot(operator, "compensated-run")


def test_an_action_the_api_refuses_shows_the_apis_message(
    platform: Platform, operator: WebDriver
) -> None:
    instance_id = _completed_order(platform, "hugo")
    refusal = platform.api.post(f"/v1/runs/{instance_id}/suspend")
    assert refusal.status_code == 409

    operator.get(f"{platform.api_url}/ui/runs/{instance_id}")
    operator.find_element(By.ID, "action-suspend").click()
    [shown] = wait_for_text(operator, "#action-result .refusal", "refused", 60)
    assert shown == f"suspend refused (409 WORKFLOW_NOT_RUNNING): {refusal.json()['detail']}"
    screenshot(operator, "refused-action")


def test_a_viewer_sees_the_api_refuse_what_the_role_does_not_allow(
    platform: Platform, browser: WebDriver
) -> None:
    instance_id = _completed_order(platform, "ines")
    browser.delete_all_cookies()
    login(browser, platform.api_url, platform.token("vic", ["viewer"]), f"/ui/runs/{instance_id}")

    browser.find_element(By.ID, "action-rerun").click()
    [shown] = wait_for_text(browser, "#action-result .refusal", "refused", 60)
    assert shown == "rerun refused (403 FORBIDDEN): this call needs the role operator"
    assert platform.api.get(f"/v1/runs/{instance_id}").json()["status"] == "COMPLETED"


def test_stock_and_dead_letters_show_what_the_api_holds_and_a_replay_is_sent(
    platform: Platform, operator: WebDriver
) -> None:
    operator.get(f"{platform.api_url}/ui/inventory")
    [level] = platform.api.get("/v1/inventory/stock", params={"sku": SKU}).json()["items"]
    [row] = texts(operator, f"#stock tr[data-sku='{SKU}']")
    counts = [level["available"], level["reserved"], level["shipped"]]
    on_hand = level["available"] + level["reserved"]
    assert row.split() == [SKU, *map(str, counts), str(on_hand)]

    malformed = _order(platform, "jana", 1_000).to_data()
    malformed["items"] = []  # an order must have a line: the orchestrator refuses it
    platform.publish(Topic.ORDERS, EventType.ORDER_PLACED, json.dumps(malformed))

    def listed() -> dict[str, Any] | None:
        items = platform.api.get("/v1/dead-letters").json()["items"]
        return next((i for i in items if malformed["orderId"] in i["data"]), None)

    letter = wait_until(listed, 30, what="the malformed order's dead letter")
    operator.get(f"{platform.api_url}/ui/dead-letters")
    row_selector = f"tr[data-dead-letter='{letter['id']}']"
    [row] = wait_for_text(operator, row_selector, letter["reason"], 30)
    assert str(Topic.ORDERS) in row
    screenshot(operator, "dead-letters")

    operator.find_element(By.CSS_SELECTOR, f"{row_selector} button").click()
    operator.switch_to.alert.accept()  # "Publish dead letter N on orders again?"
    wait_for_text(operator, f"{row_selector} .replay-result", "replay: accepted", 60)
    replays = platform.api.get(f"/v1/dead-letters/{letter['id']}").json()["replays"]
    assert [replay["by"] for replay in replays] == [APPROVER]
