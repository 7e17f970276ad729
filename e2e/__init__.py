"""End-to-end tests: local (embedded runtime) and cluster (kind + Dapr, when KUBECONFIG is set)."""
