"""The README's pictures of the web console, made from a live platform:
`python tools/console_screenshot.py` writes `docs/console-runs.png` (the runs page) and
`docs/console-run.png` (a compensated saga's page: its timeline and diagram).

It starts the platform on free ports (testkit.platform), places a few orders as an
upstream system would (completed ones, one waiting for its approval, one whose shipment
fails so the saga compensates), waits for them to settle, signs in through the login page
in headless Chromium and photographs the pages.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By

from services.contracts.messages import Address, OrderLine, OrderPlaced
from testkit.browser import console_browser, login, wait_for_text
from testkit.platform import Platform, PlatformSettings
from testkit.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CARD = "4242424242424242"
# (order id, customer, SKU, quantity, unit price in cents, country)
ORDERS = [
    ("A-1001", "alice", "SKU-001", 2, 1_999, "US"),
    ("A-1002", "bruno", "SKU-002", 1, 4_500, "GB"),
    ("A-1003", "chen", "SKU-003", 3, 50_000, "US"),  # over $1,000: waits for an approval
    ("A-1004", "dana", "SKU-001", 1, 2_500, "BR"),  # not shipped there: compensated
    ("A-1005", "emre", "SKU-002", 4, 1_250, "DE"),
]


def _order(platform: Platform, spec: tuple[str, str, str, int, int, str]) -> OrderPlaced:
    order_id, customer, sku, quantity, price, country = spec
    return OrderPlaced(
        order_id=order_id,
        customer_id=customer,
        items=[OrderLine(sku=sku, quantity=quantity, unit_price_cents=price)],
        payment_token=platform.token_for(CARD),
        shipping_address=Address(
            line1="1 Market Street", city="Springfield", postal_code="12345", country=country
        ),
    )


def main() -> int:
    seed = {"SKU-001": 100, "SKU-002": 60, "SKU-003": 20}
    with tempfile.TemporaryDirectory(prefix="console-screenshot-") as folder:
        platform = Platform(Path(folder), PlatformSettings(inventory_seed=seed)).start()
        try:
            for spec in ORDERS:
                platform.place_order(_order(platform, spec))
            for order_id, *_ in ORDERS:
                waiting = order_id == "A-1003"
                platform.wait_run_status(
                    f"approval-{order_id}" if waiting else f"order-{order_id}",
                    {"RUNNING"} if waiting else {"COMPLETED"},
                )
            driver = console_browser(width=1400, height=820)
            try:
                login(driver, platform.api_url, platform.token("olga", ["operator", "approver"]))
                wait_for_text(driver, "#runs", "order-A-1005", 30)
                driver.save_screenshot(str(DOCS / "console-runs.png"))
                driver.set_window_size(1400, 1500)
                driver.get(f"{platform.api_url}/ui/runs/order-A-1004")
                wait_until(
                    lambda: driver.find_elements(By.CSS_SELECTOR, "#diagram svg"),
                    30,
                    what="the diagram",
                )
                driver.execute_script(
                    "document.querySelector('[aria-label=Timeline]').scrollIntoView();"
                )
                driver.save_screenshot(str(DOCS / "console-run.png"))
            finally:
                driver.quit()
        finally:
            platform.close()
    print(f"wrote {DOCS / 'console-runs.png'} and {DOCS / 'console-run.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
