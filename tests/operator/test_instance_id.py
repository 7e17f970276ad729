"""Default instance ids: derived from namespace and name only, bounded, never colliding."""

from __future__ import annotations

import re

from workflowrun_operator.instance_id import MAX_LENGTH, default_instance_id, instance_id_for

# The CRD's (and the management API's) pattern for instance ids.
INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def test_the_default_id_names_namespace_and_run_and_is_stable() -> None:
    instance_id = default_instance_id("team-a", "nightly-report")

    assert re.fullmatch(r"wfr-team-a-nightly-report-[0-9a-f]{8}", instance_id)
    assert default_instance_id("team-a", "nightly-report") == instance_id


def test_runs_whose_readable_parts_coincide_get_different_ids() -> None:
    assert default_instance_id("a-b", "c") != default_instance_id("a", "b-c")


def test_long_names_are_cut_and_still_differ() -> None:
    name = "x" * 250
    first = default_instance_id("team-a", name + "1")
    second = default_instance_id("team-a", name + "2")

    assert len(first) <= MAX_LENGTH
    assert first != second
    assert INSTANCE_ID.fullmatch(first)


def test_default_ids_are_valid_instance_ids() -> None:
    for namespace, name in [("ns", "a.b.c"), ("n" * 63, "-" * 3 + "z"), ("default", "r")]:
        assert INSTANCE_ID.fullmatch(default_instance_id(namespace, name))


def test_an_id_in_the_spec_wins() -> None:
    assert instance_id_for("team-a", "run", "order-42") == "order-42"
    assert instance_id_for("team-a", "run", None) == default_instance_id("team-a", "run")
