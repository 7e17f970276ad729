"""daprd's HTTP API on `--dapr-http-port`: health, metadata, state, publish, invoke and
workflows, with daprd's paths, status codes, error bodies and headers.

Each route turns the HTTP request into the gRPC request of the same operation and hands it
to the servicer the gRPC API uses (`calls`), so a rule is written once; only the
translation between HTTP and the protos lives here.
"""
