"""The shipping service: a Dapr app answering `shipping-commands` on `saga-replies`."""
