"""The project's testing kit: real processes for tests, the e2e suite and the benchmarks.

What `kopf.testing` is to kopf: one importable place for starting embedded sidecars
(`testkit.sidecar`), apps (`testkit.apps`), the recording subscriber app
(`testkit.subscriber_app`, read through `testkit.observer`) and the whole platform of
`dapr.yaml` (`testkit.platform`), on free ports (`testkit.ports`), with Dapr resource
documents (`testkit.resources`), one process wrapper (`testkit.process`) and one way to
wait (`testkit.polling`). The product never imports it; `tests/`, `e2e/` and `bench/` do,
and nothing outside `tests/` imports `tests`. See README.md beside this file.
"""
