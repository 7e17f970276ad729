"""Multi-App Run: `python -m sidecar.runner -f dapr.yaml` starts every app of a Dapr run
template next to its own embedded sidecar, the way `dapr run -f .` does with daprd.

Modules, one job each: `template` parses and validates the file (pure), `plan` turns it
into concrete command lines, ports and environments (`daprd` builds daprd's, for
`--runtime daprd`), `probes` answers "is it up yet", `output` prefixes process output,
`supervisor` owns the processes' lifetimes.
"""
