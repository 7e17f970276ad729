"""Which handler path a message goes to: Dapr routing rules (CEL) and wildcard topics."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cel

from sidecar.resources.definitions import Subscription

log = logging.getLogger("sidecar.pubsub")


class RuleError(ValueError):
    """A routing rule that is not a valid CEL expression."""


@dataclass(frozen=True)
class CompiledRoute:
    match: str
    path: str
    program: Any


@dataclass(frozen=True)
class Router:
    """The routes of one subscription, rules compiled once, first match wins."""

    rules: tuple[CompiledRoute, ...]
    default: str

    @classmethod
    def for_subscription(cls, subscription: Subscription) -> Router:
        compiled = []
        for rule in subscription.rules:
            try:
                program = cel.compile(rule.match)
            except ValueError as error:
                raise RuleError(
                    f"subscription '{subscription.name}' on topic '{subscription.topic}': "
                    f"invalid match expression {rule.match!r}: {error}"
                ) from None
            compiled.append(CompiledRoute(rule.match, rule.path, program))
        return cls(tuple(compiled), subscription.default_route)

    def route(self, event: dict[str, Any]) -> str | None:
        """The path for `event`, or None when no rule matches and there is no default.

        A rule that fails to evaluate on this event (a missing field, a type error) does
        not match, as daprd treats it.
        """
        for rule in self.rules:
            try:
                matched = rule.program.execute({"event": event})
            except (KeyError, ValueError, TypeError, RuntimeError) as error:
                log.debug("routing rule did not evaluate", extra={"rule": rule.match, "e": error})
                continue
            if matched is True:
                return rule.path
        return self.default if self.default or not self.rules else None


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT-style wildcards over `/`-separated levels: `+` one level, `#` the rest."""
    if "+" not in pattern and "#" not in pattern:
        return pattern == topic
    wanted = pattern.split("/")
    levels = topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(wanted) == len(levels)
