"""`python -m workflowrun_operator`: the operator process, i.e. `kopf run` with our handlers.

The command line comes from the environment (`settings.OperatorSettings.kopf_run_args`);
extra arguments are passed on to `kopf run` (e.g. `--verbose`).
"""

from __future__ import annotations

import sys

import kopf.cli

from workflowrun_operator.settings import OperatorSettings, SettingsError


def main(argv: list[str] | None = None) -> None:
    try:
        settings = OperatorSettings.from_env()
    except SettingsError as error:
        sys.exit(f"workflowrun-operator: {error}")
    args = [*settings.kopf_run_args(), *(sys.argv[1:] if argv is None else argv)]
    kopf.cli.main(args=args, prog_name="workflowrun-operator")


if __name__ == "__main__":
    main()
