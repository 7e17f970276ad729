"""`sagactl workflow` takes every verb and flag of `dapr workflow`, with dapr's meaning.

The table below is dapr's, written down by hand from the Dapr CLI's source:
github.com/dapr/cli, `cmd/workflow/*.go` at v1.18.0 (the same flags on main at bc695e97;
`workflow` appeared in v1.16.3, `--all-filter-status` and `list -o ids` in v1.18.0).
Persistent flags come from `workflow.go`; `filterCmd`, `outputFunc`, `connectionCmd`,
`instanceIDCmd` and `inputCmd` there add the shared ones. Each row says what the flag
means in one phrase and where sagactl's parser puts it (the dest); the tests check the
argparse tree against it, flag by flag, short and long.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from sagactl.main import build_parser


@dataclass(frozen=True)
class DaprFlag:
    long: str
    short: str | None
    meaning: str
    dest: str
    takes_value: bool = True


@dataclass(frozen=True)
class DaprVerb:
    name: str
    aliases: tuple[str, ...]
    positionals: tuple[str, ...]  # sample arguments, as many as dapr's `Args` wants
    flags: tuple[DaprFlag, ...]


# workflow.go: persistent flags of `dapr workflow` (alias `wf`), on every verb.
PERSISTENT = (
    DaprFlag("--kubernetes", "-k", "target a Kubernetes Dapr installation", "kubernetes", False),
    DaprFlag("--namespace", "-n", "namespace of the workflow operation", "namespace"),
    DaprFlag("--app-id", "-a", "the app ID owning the workflow instance", "app_id"),
)
STATE_STORE = (
    DaprFlag(
        "--connection-string", "-c", "actor state store connection string", "connection_string"
    ),
    DaprFlag("--table-name", "-t", "actor state store table or collection", "table_name"),
)
INPUT = DaprFlag("--input", "-x", "input data, a JSON string", "input")

VERBS = (
    DaprVerb(
        "list",
        ("ls",),
        (),
        (
            DaprFlag(
                "--output", "-o", "output format: short, wide, yaml, json, ids", "output_format"
            ),
            DaprFlag("--filter-name", "-w", "only workflows with this name", "filter_name"),
            DaprFlag(
                "--filter-status", "-s", "only workflows in this runtime status", "filter_status"
            ),
            DaprFlag(
                "--filter-max-age",
                "-m",
                "only workflows started within a duration or since a timestamp",
                "filter_max_age",
            ),
            *STATE_STORE,
        ),
    ),
    DaprVerb(
        "history",
        (),
        ("order-1",),
        (DaprFlag("--output", "-o", "output format: short, wide, yaml, json", "output_format"),),
    ),
    DaprVerb(
        "run",
        (),
        ("order_saga",),
        (
            DaprFlag("--instance-id", "-i", "the new instance's ID", "instance_id"),
            INPUT,
            DaprFlag("--start-time", "-s", "start time: RFC 3339 or Go duration", "start_time"),
        ),
    ),
    DaprVerb("raise-event", (), ("order-1/finish",), (INPUT,)),
    DaprVerb(
        "rerun",
        (),
        ("order-1",),
        (
            INPUT,
            DaprFlag("--new-instance-id", None, "ID of the re-run instance", "new_instance_id"),
            DaprFlag("--event-id", "-e", "event ID to re-run from", "event_id"),
        ),
    ),
    DaprVerb(
        "suspend", (), ("order-1",), (DaprFlag("--reason", "-r", "why it is suspended", "reason"),)
    ),
    DaprVerb(
        "resume", (), ("order-1",), (DaprFlag("--reason", "-r", "why it is resumed", "reason"),)
    ),
    DaprVerb(
        "terminate",
        (),
        ("order-1",),
        (DaprFlag("--output", "-o", "the workflow's output, a JSON string", "run_output"),),
    ),
    DaprVerb(
        "purge",
        (),
        (),
        (
            DaprFlag(
                "--all-older-than",
                None,
                "purge terminal instances older than a duration or timestamp",
                "all_older_than",
            ),
            DaprFlag("--all", None, "purge every terminal instance", "all", False),
            DaprFlag(
                "--all-filter-status",
                None,
                "with --all-older-than, only instances in this status",
                "all_filter_status",
            ),
            DaprFlag("--force", None, "purge whatever the runtime state", "force", False),
            DaprFlag(
                "--scheduler-namespace",
                None,
                "Kubernetes namespace of the scheduler",
                "scheduler_namespace",
            ),
            *STATE_STORE,
        ),
    ),
)
# A value each flag's parser accepts, where "x" would not do.
SAMPLE_VALUES = {"--output": "wide", "--event-id": "3"}
# Outputs of dapr's `outputFunc`: short, wide, yaml, json; `list` adds ids.
OUTPUTS = {
    "list": {"short", "wide", "yaml", "json", "ids"},
    "history": {"short", "wide", "yaml", "json"},
}

CASES = [
    pytest.param(verb, flag, id=f"{verb.name} {flag.long}")
    for verb in VERBS
    for flag in (*PERSISTENT, *verb.flags)
]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _verb_parser(name: str) -> argparse.ArgumentParser:
    return _subparsers(_subparsers(build_parser())["workflow"])[name]


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return parser._option_string_actions[flag]


def test_every_verb_and_alias_of_dapr_workflow_is_there() -> None:
    groups = _subparsers(build_parser())
    assert groups["wf"] is groups["workflow"]
    verbs = _subparsers(groups["workflow"])
    for verb in VERBS:
        for name in (verb.name, *verb.aliases):
            assert verbs[name] is verbs[verb.name], name


@pytest.mark.parametrize(("verb", "flag"), CASES)
def test_every_flag_has_dapr_s_short_name_and_lands_where_its_meaning_says(
    verb: DaprVerb, flag: DaprFlag
) -> None:
    parser = _verb_parser(verb.name)
    action = _action(parser, flag.long)

    assert action.dest == flag.dest, flag.meaning
    assert (action.nargs != 0) == flag.takes_value, flag.meaning
    if flag.short is not None:
        assert _action(parser, flag.short) is action, flag.meaning


@pytest.mark.parametrize(("verb", "flag"), CASES)
def test_every_flag_parses_on_a_dapr_command_line(verb: DaprVerb, flag: DaprFlag) -> None:
    """`dapr workflow VERB ARGS -X VALUE`, and persistent flags before the verb too."""
    value = SAMPLE_VALUES.get(flag.long, "x")
    given = [flag.short or flag.long, *([value] if flag.takes_value else [])]
    expected: object = True if not flag.takes_value else value
    if flag.long == "--event-id":
        expected = int(value)

    lines = [["workflow", verb.name, *verb.positionals, *given]]
    if flag in PERSISTENT:
        lines.append(["wf", *given, verb.name, *verb.positionals])
    for line in lines:
        args = build_parser().parse_args(line)
        assert getattr(args, flag.dest) == expected, (line, flag.meaning)


@pytest.mark.parametrize("verb", sorted(OUTPUTS))
def test_output_formats_are_dapr_s(verb: str) -> None:
    choices = _action(_verb_parser(verb), "-o").choices
    assert choices is not None
    assert set(choices) >= OUTPUTS[verb]
    line = ["workflow", verb, *(["order-1"] if verb == "history" else [])]
    assert build_parser().parse_args(line).output_format == "short"  # dapr's default
