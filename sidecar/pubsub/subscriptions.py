"""The subscriptions an app's sidecar delivers: the app's own and the declarative ones.

Delivery starts once the app answered `ListTopicSubscriptions`: its programmatic
subscriptions are merged with the declarative `Subscription` resources scoped to it (as in
daprd, the app's own subscription wins for the same pubsub and topic, and the declarative
one is skipped with a warning). A subscription the sidecar cannot honour (an invalid rule,
bulk delivery) is refused with an error and receives nothing.
"""

from __future__ import annotations

import logging

from dapr.proto.runtime.v1 import appcallback_pb2

from sidecar.pubsub.routing import Router, RuleError
from sidecar.resources.definitions import Rule, Subscription
from sidecar.resources.loader import BULK_SUBSCRIBE_REFUSED

log = logging.getLogger("sidecar.pubsub")


def app_subscriptions(
    response: appcallback_pb2.ListTopicSubscriptionsResponse,
) -> list[Subscription]:
    """The app's subscriptions; one asking for bulk delivery is refused with an error (it
    receives nothing), since the sidecar delivers each message by its own call."""
    subscriptions = []
    for s in response.subscriptions:
        if s.bulk_subscribe.enabled:
            log.error(
                "subscription refused: it receives nothing",
                extra={"pubsub": s.pubsub_name, "topic": s.topic, "e": BULK_SUBSCRIBE_REFUSED},
            )
            continue
        subscriptions.append(
            Subscription(
                name=f"{s.pubsub_name}-{s.topic}",
                pubsub=s.pubsub_name,
                topic=s.topic,
                rules=tuple(Rule(r.match, r.path) for r in s.routes.rules),
                default_route=s.routes.default,
                dead_letter_topic=s.dead_letter_topic,
                metadata=dict(s.metadata),
                source="app (ListTopicSubscriptions)",
            )
        )
    return subscriptions


def valid_rules(subscriptions: list[Subscription]) -> list[Subscription]:
    """The app's subscriptions whose routing rules compile; the others are left out with an
    error naming the expression (the declarative ones were checked at start-up)."""
    valid = []
    for subscription in subscriptions:
        try:
            Router.for_subscription(subscription)
        except RuleError as error:
            log.error(
                "subscription refused: it receives nothing",
                extra={"pubsub": subscription.pubsub, "topic": subscription.topic, "e": str(error)},
            )
            continue
        valid.append(subscription)
    return valid


def merge_subscriptions(
    declarative: list[Subscription], programmatic: list[Subscription]
) -> list[Subscription]:
    """The app's subscriptions, then the declarative ones for other topics (daprd's order)."""
    merged = list(programmatic)
    taken = {(s.pubsub, s.topic) for s in programmatic}
    for subscription in declarative:
        if (subscription.pubsub, subscription.topic) in taken:
            log.warning(
                "two identical subscriptions found (sources: declarative, app endpoint); "
                "the app's is used",
                extra={
                    "pubsub": subscription.pubsub,
                    "topic": subscription.topic,
                    "resource": subscription.source,
                },
            )
            continue
        taken.add((subscription.pubsub, subscription.topic))
        merged.append(subscription)
    return merged
