"""Running the whole platform locally, and a demo of it: a tool on top of the platform, so
it lives beside `services/` rather than in it (the services know nothing of the runner).

- `python -m demo.run` (`make run`): the platform of `dapr.yaml` on the embedded runtime
  (`python -m sidecar.runner`), its output streamed, and once every app is connected, how
  to use it with `sagactl`.
- `python -m demo` (`make demo`): the same platform, its output in a log file, plus the
  order generator (`generator.py`) with a live view (`view.py`) and a checked summary
  (`summary.py`).
- `launcher.py`: the runner as a child process, every port planned up front with the
  runner's planner; `readiness.py`: when the platform it runs takes orders. Both
  commands build on them.
- The generator's parts, each on its own: the kinds of order and how each must end
  (`scenarios.py`), the stock levels (`stock.py`), building the orders (`orders.py`),
  placing them and deciding approvals (`publishing.py`), following the sagas
  (`tracking.py`) and reading how each ended (`outcomes.py`).
"""
