"""Service invocation (`InvokeService`, `/v1.0/invoke`): daprd's routing to the target app's
sidecar and its calls to gRPC and HTTP apps."""
