"""The contracts between the apps: names, event types and message models, in one place."""
