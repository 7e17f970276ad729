"""What sagactl does without an API: completion scripts for bash, zsh and fish, driven in
the real shells (zsh and fish when installed), and starting without any of the platform's
server code loaded."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sagactl.main import build_parser
from tests.api.harness import ROOT

# (words typed, the word being completed) -> what the shell offers.
EXPECTED = [
    (["wo"], {"workflow"}),
    (["wf", "l"], {"list", "ls"}),
    (["workflow", "list", "-o", ""], {"short", "wide", "json", "yaml", "ids"}),
    (["wf", "purge", "--all"], {"--all", "--all-older-than", "--all-filter-status"}),
    (["wf", "ls", "--filter-"], {"--filter-status", "--filter-name", "--filter-max-age"}),
    (["completion", ""], {"bash", "zsh", "fish"}),
]


def script(shell: str, tmp_path: Path) -> Path:
    path = tmp_path / f"sagactl.{shell}"
    done = subprocess.run(
        [sys.executable, "-m", "sagactl", "completion", shell],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    path.write_text(done.stdout)
    return path


def offered(shell: str, path: Path, words: list[str]) -> set[str]:
    quoted = " ".join(["sagactl", *(word or "''" for word in words)])
    if shell == "bash":
        program = (
            f"source {path}; COMP_WORDS=({quoted}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); "
            "_sagactl; printf '%s\\n' \"${COMPREPLY[@]}\""
        )
    elif shell == "zsh":
        # Outside a completion widget: compadd and friends stand in, printing what they get.
        program = (
            'compadd() { shift; print -l -- "$@"; }; _files() { :; }; compdef() { :; }; '
            f"source {path}; words=({quoted}); CURRENT=${{#words}}; _sagactl"
        )
    else:
        program = f"source {path}; complete -C '{' '.join(['sagactl', *words])}'"
    done = subprocess.run([shell, "-c", program], capture_output=True, text=True, check=True)
    return {row.split("\t")[0] for row in done.stdout.splitlines() if row}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_offers_commands_flags_and_choices(shell: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = script(shell, tmp_path)
    for words, expected in EXPECTED:
        got = offered(shell, path, words)
        prefix = words[-1]
        assert {word for word in got if word.startswith(prefix)} >= expected, (words, got)


def test_completion_follows_the_parser() -> None:
    """Every flag of every verb is in the scripts (they are generated, not written)."""
    bash = subprocess.run(
        [sys.executable, "-m", "sagactl", "completion", "bash"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for flag in parser._option_string_actions:
            assert f" {flag} " in bash or f'{flag}"' in bash, (parser.prog, flag)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
    assert '"sagactl/workflow/rerun -e"|"sagactl/workflow/rerun --event-id"' in bash


def test_sagactl_runs_without_the_sidecar_or_the_services() -> None:
    """It speaks HTTP only: nothing of the platform's server side is loaded."""
    program = (
        "import sys, sagactl.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sidecar', 'services', 'dapr'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[]"
