"""Temporal as a peer in `make bench`: our saga's shape on Temporal's dev server.

An orchestrator workflow (reserve -> charge -> ship -> commit, compensations newest first)
and the inventory, payment and shipping activities, each service in a worker process of its
own on its own task queue with its effects in a SQLite file of its own, as our apps keep
theirs. Two halves, because temporalio and the dapr SDK do not share a virtualenv:

- `shape`, `effects`: standard library only; the data the two halves exchange and the
  services' SQLite stores. Checked by the project's mypy like the rest of `bench/`.
- `sdk/`: the workflow, the workers and the measuring client. They import temporalio, so
  they run only under `.venv-temporal` (built from `bench/temporal-requirements.lock`) and
  are type-checked by a mypy run pointed at that virtualenv (`--python-executable`).
- `peer`: runs in the project's virtualenv: builds `.venv-temporal`, starts the dev server
  and the workers as `testkit` processes, runs the measuring client, returns its figures.
"""
