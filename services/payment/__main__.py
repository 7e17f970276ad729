"""`python -m services.payment`: serves payment commands (`PAYMENT_LIMIT_CENTS` sets the
customer limit, default 500000)."""

from __future__ import annotations

import os

from services.common.runtime import connect, serve
from services.contracts.names import AppId
from services.payment.app import build_app
from services.payment.rules import DEFAULT_LIMIT_CENTS


def main() -> None:
    limit_cents = int(os.environ.get("PAYMENT_LIMIT_CENTS") or DEFAULT_LIMIT_CENTS)
    serve(build_app(connect(AppId.PAYMENT), limit_cents), default_port=6002)


if __name__ == "__main__":
    main()
