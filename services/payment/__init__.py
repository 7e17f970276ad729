"""The payment service: a Dapr app answering `payment-commands` on `saga-replies`."""
