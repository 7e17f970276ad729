"""The Temporal peer's code that imports temporalio: it runs only under `.venv-temporal`.

The project's mypy leaves this folder out (its virtualenv has no temporalio); a second mypy
run, pointed at `.venv-temporal` with `--python-executable`, checks it against temporalio's
own types (docs/benchmarks.md).
"""
