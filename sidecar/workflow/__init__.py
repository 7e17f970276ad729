"""The durable-task workflow engine behind the sidecar's `TaskHubSidecarService`.

Layers, as in durabletask-go: `servicer` translates gRPC, `engine` schedules work items
and owns in-memory state, `transitions` holds the history rules as pure code, and
`store` commits every change to SQLite before the engine acknowledges it.
"""
