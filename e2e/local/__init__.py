"""Local end-to-end suite: the whole platform of `dapr.yaml` as real processes on embedded
sidecars, driven only through pub/sub, the management API and the CLI."""
