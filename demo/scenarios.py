"""The kinds of order the demo places, how each must end, and how many of each.

Each kind exercises one path through the saga (docs/workflows.md, docs/services.md):

| kind | how | expected: outcome, failed step, compensations |
|---|---|---|
| `normal` | under the approval threshold | `completed` |
| `approved` | over the threshold; approved | `completed` |
| `approval-rejected` | over the threshold; rejected | `compensated`, `approval`, `release` |
| `unknown-sku` | one line's SKU is not in the catalogue | `rejected`, `reserve` |
| `insufficient-stock` | more units of a SKU than it has | `rejected`, `reserve` |
| `card-declined` | the declining test card | `compensated`, `charge`, `release` |
| `unshippable` | country not in `SHIPPING_COUNTRIES` | `compensated`, `ship`, `refund, release` |
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from services.contracts.messages import Outcome
from services.contracts.names import CompensationName, StepName


class Kind(StrEnum):
    NORMAL = "normal"
    APPROVED = "approved"
    APPROVAL_REJECTED = "approval-rejected"
    UNKNOWN_SKU = "unknown-sku"
    INSUFFICIENT_STOCK = "insufficient-stock"
    CARD_DECLINED = "card-declined"
    UNSHIPPABLE = "unshippable"


# The kinds whose saga waits for a person's decision.
NEEDS_APPROVAL = frozenset({Kind.APPROVED, Kind.APPROVAL_REJECTED})


@dataclass(frozen=True)
class Expected:
    """A saga's end as its result reports it (`outcome`, `failedStep`, ...)."""

    outcome: Outcome
    failed_step: StepName | None = None
    compensations: tuple[CompensationName, ...] = ()
    approval: str | None = None


EXPECTED: Mapping[Kind, Expected] = {
    Kind.NORMAL: Expected("completed"),
    Kind.APPROVED: Expected("completed", approval="approved"),
    Kind.APPROVAL_REJECTED: Expected(
        "compensated", StepName.APPROVAL, (CompensationName.RELEASE,), "rejected"
    ),
    Kind.UNKNOWN_SKU: Expected("rejected", StepName.RESERVE),
    Kind.INSUFFICIENT_STOCK: Expected("rejected", StepName.RESERVE),
    Kind.CARD_DECLINED: Expected("compensated", StepName.CHARGE, (CompensationName.RELEASE,)),
    Kind.UNSHIPPABLE: Expected(
        "compensated", StepName.SHIP, (CompensationName.REFUND, CompensationName.RELEASE)
    ),
}
# Share of each failing or approval kind in a large mix; `normal` takes the rest. With
# fewer orders than kinds, the kinds come in this order.
_SHARES: Mapping[Kind, float] = {
    Kind.APPROVED: 0.13,
    Kind.APPROVAL_REJECTED: 0.03,
    Kind.UNKNOWN_SKU: 0.05,
    Kind.INSUFFICIENT_STOCK: 0.05,
    Kind.CARD_DECLINED: 0.07,
    Kind.UNSHIPPABLE: 0.07,
}
_PRIORITY = (
    Kind.NORMAL,
    Kind.APPROVED,
    Kind.APPROVAL_REJECTED,
    Kind.UNKNOWN_SKU,
    Kind.CARD_DECLINED,
    Kind.UNSHIPPABLE,
    Kind.INSUFFICIENT_STOCK,
)


def mix(count: int) -> collections.Counter[Kind]:
    """How many orders of each kind: every kind at least once when `count` allows."""
    if count < 1:
        raise ValueError("at least one order")
    if count < len(_PRIORITY):
        return collections.Counter(_PRIORITY[:count])
    counts = collections.Counter(
        {kind: max(1, round(count * share)) for kind, share in _SHARES.items()}
    )
    counts[Kind.NORMAL] = count - sum(counts.values())
    return counts
