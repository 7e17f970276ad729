"""The durable-task workflow engine behind the sidecar's `TaskHubSidecarService`.

Layers, as in durabletask-go's backend: `servicer` translates gRPC; `client` and `workers`
serve the client and worker sides; `dispatch` leases work items to worker streams;
`commits` turns each change into one `Batch` and mirrors it in `state` once `store` has
committed it to SQLite; `transitions` and `rerun` hold the history rules, without I/O.
`engine` wires the parts together.
"""
