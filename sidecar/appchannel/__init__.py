"""The sidecar's channel to its app (`--app-port`, `--app-protocol`): how it asks the app for
its subscriptions, delivers messages to it and invokes its methods, over gRPC
(`AppCallback`) or HTTP (`/dapr/subscribe`, a POST per message, a request per invocation)."""
