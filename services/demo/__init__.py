"""Running the whole platform locally, and a demo of it.

- `python -m services.demo.run` (`make run`): the platform of `dapr.yaml` on the embedded
  runtime (`python -m sidecar.runner`), its output streamed, and once every app is
  connected, how to use it with `sagactl`.
- `python -m services.demo` (`make demo`): the same platform, its output in a log file,
  plus the order generator (`generator.py`) with a live view and a checked summary.
- `launcher.py`: the runner as a child process, its ports read from its output, and the
  readiness check both build on.
"""
