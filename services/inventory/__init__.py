"""The inventory service: a Dapr app answering `inventory-commands` on `saga-replies`."""
