"""Card numbers (PANs) as plain text: recognising one, and keeping one out of what the
platform writes down.

Only the payment service's vault ever holds a card number (services/payment/vault.py);
everything else knows a card by its token, brand and last four digits. Two places still
meet arbitrary text that an upstream system may have put a number into: the vault's edge,
which checks what it is given (`is_card_number`, `card_brand`), and dead letters, which
copy a refused message (`redact_card_numbers`): a legacy `order.placed` with a
`cardNumber` must not put the number into a dead-letter topic.
"""

from __future__ import annotations

import re

# 12 to 19 digits, as ISO/IEC 7812 numbers are, not inside a longer run of digits.
_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{12,19}(?![0-9])")

# Issuer prefixes of the brands the platform names (first match wins).
_BRANDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("amex", re.compile(r"^3[47]")),
    ("visa", re.compile(r"^4")),
    ("mastercard", re.compile(r"^(5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720)")),
    ("discover", re.compile(r"^(6011|65|64[4-9])")),
)


def luhn_valid(digits: str) -> bool:
    """The Luhn check every card number passes (and most other digit strings fail)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    return _CANDIDATE.fullmatch(text) is not None and luhn_valid(text)


def card_brand(number: str) -> str:
    """The card's brand from its issuer prefix, or `unknown`."""
    return next((brand for brand, prefix in _BRANDS if prefix.match(number)), "unknown")


def masked(number: str) -> str:
    """What may be shown of a card number: its last four digits."""
    return f"****{number[-4:]}"


def redact_card_numbers(text: str) -> str:
    """`text` with every card number in it (a Luhn-valid run of 12 to 19 digits) masked."""
    return _CANDIDATE.sub(
        lambda match: masked(match[0]) if luhn_valid(match[0]) else match[0], text
    )
