"""`sagactl completion bash|zsh|fish`: shell completion scripts, generated from the
argparse tree itself so they never drift from the flags.

Each script finds which command the words typed so far name (aliases such as `wf` and
`ls` lead to the same command), then offers its subcommands and flags, or, after a flag
that takes a value, that flag's choices (or file names when it has none).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")
_ROOT = "sagactl"


@dataclass
class _Option:
    flags: list[str]
    help: str
    takes_value: bool
    choices: list[str]


@dataclass
class _Command:
    path: str  # "sagactl/workflow/list"
    names: list[str]  # the last word of the path and its aliases
    subcommands: list[tuple[str, str]] = field(default_factory=list)  # (name, help)
    options: list[_Option] = field(default_factory=list)


def _commands(parser: argparse.ArgumentParser, path: str, names: list[str]) -> Iterator[_Command]:
    command = _Command(path, names)
    children: list[tuple[str, list[str], argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for pseudo in action._choices_actions:
                child = action.choices[pseudo.dest]
                aliases = [n for n, p in action.choices.items() if p is child and n != pseudo.dest]
                command.subcommands += [
                    (name, pseudo.help or "") for name in (pseudo.dest, *aliases)
                ]
                children.append((pseudo.dest, [pseudo.dest, *aliases], child))
        elif not action.option_strings:
            # A positional with choices (`completion SHELL`): its values are the next words.
            command.subcommands += [(str(c), action.help or "") for c in action.choices or ()]
        elif action.help != argparse.SUPPRESS:
            command.options.append(
                _Option(
                    list(action.option_strings),
                    action.help or "",
                    action.nargs != 0,
                    [str(choice) for choice in action.choices or ()],
                )
            )
    yield command
    for name, child_names, child in children:
        yield from _commands(child, f"{path}/{name}", child_names)


def _parent(command: _Command) -> str:
    return command.path.rpartition("/")[0]


def _words(command: _Command) -> list[str]:
    names = [name for name, _ in command.subcommands]
    return names + [flag for option in command.options for flag in option.flags]


def _posix_cases(
    commands: list[_Command], offer: Callable[[list[str]], str], files: str
) -> list[str]:
    """The body bash and zsh share, after the loop's `word=...`: follow the command path,
    then offer a flag's values (`files` when it has no choices), or the command's words."""
    lines = ['        case "$at/$word" in']
    for command in commands[1:]:
        patterns = "|".join(f"{_parent(command)}/{name}" for name in command.names)
        lines.append(f"            {patterns}) at={command.path} ;;")
    lines += ["        esac", "    done", '    case "$at $prev" in']
    for command in commands:
        for option in filter(lambda o: o.takes_value, command.options):
            patterns = "|".join(f'"{command.path} {flag}"' for flag in option.flags)
            reply = offer(option.choices) if option.choices else files
            lines.append(f"        {patterns}) {reply}; return ;;")
    lines += ["    esac", '    case "$at" in']
    lines += [f"        {command.path}) {offer(_words(command))} ;;" for command in commands]
    return [*lines, "    esac", "}"]


def _bash(commands: list[_Command]) -> str:
    lines = [
        "# sagactl completion for bash: source <(sagactl completion bash)",
        "_sagactl() {",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
        f"    local at={_ROOT} word i",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        "        word=${COMP_WORDS[i]}",
        *_posix_cases(
            commands,
            lambda words: f'COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur"))',
            "COMPREPLY=()",  # then `-o default` offers file names
        ),
        "complete -o default -F _sagactl sagactl",
        "",
    ]
    return "\n".join(lines)


def _zsh(commands: list[_Command]) -> str:
    lines = [
        "#compdef sagactl",
        "# sagactl completion for zsh: source <(sagactl completion zsh), or save it as",
        "# _sagactl in a directory of $fpath",
        "_sagactl() {",
        f"    local at={_ROOT} word prev=${{words[CURRENT-1]}} i",
        "    for ((i = 2; i < CURRENT; i++)); do",
        "        word=${words[i]}",
        *_posix_cases(commands, lambda words: f"compadd -- {' '.join(words)}", "_files"),
        # Autoloaded from $fpath, the file is the function's body: complete now.
        'if [[ "${funcstack[1]}" == _sagactl ]]; then _sagactl "$@"',
        "else compdef _sagactl sagactl; fi",
        "",
    ]
    return "\n".join(lines)


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(commands: list[_Command]) -> str:
    lines = [
        "# sagactl completion for fish: sagactl completion fish | source, or save it as",
        "# ~/.config/fish/completions/sagactl.fish",
        "function __sagactl_at",
        f"    set -l at {_ROOT}",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        "    for word in $words",
        '        switch "$at/$word"',
    ]
    for command in commands[1:]:
        patterns = " ".join(f"{_parent(command)}/{name}" for name in command.names)
        lines += [f"            case {patterns}", f"                set at {command.path}"]
    lines += [
        "        end",
        "    end",
        '    test "$at" = "$argv[1]"',
        "end",
        "complete -c sagactl -f",
    ]
    for command in commands:
        where = f"complete -c sagactl -n {_fish_quote('__sagactl_at ' + command.path)}"
        for name, help_text in command.subcommands:
            lines.append(f"{where} -a {name} -d {_fish_quote(help_text)}")
        for option in command.options:
            flags = " ".join(
                f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                for flag in option.flags
            )
            if option.choices:
                flags += f" -x -a {_fish_quote(' '.join(option.choices))}"
            elif option.takes_value:
                flags += " -r -F"
            lines.append(f"{where} {flags} -d {_fish_quote(option.help)}")
    lines.append("")
    return "\n".join(lines)


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of `shell` for every command of `parser`."""
    commands = list(_commands(parser, _ROOT, [_ROOT]))
    emit = {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell]
    return emit(commands)
