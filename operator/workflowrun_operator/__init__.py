"""The WorkflowRun operator: maps `WorkflowRun` resources (saga.dapr.io/v1alpha1) onto workflow
instances of the orchestrator, through its management API, and mirrors each instance's state
into the resource's status.

Layout (one concern per module): `settings` (environment), `crd` (the resource's coordinates and
a typed view of its spec), `instance_id` (default instance ids), `client` (the management API),
`status` (pure status and condition builders), `kube_api` (the one Kubernetes call kopf does not
make for us: deleting a finished run), `handlers` (kopf handlers that only translate events into
those calls), `__main__` (`python -m workflowrun_operator`).
"""
