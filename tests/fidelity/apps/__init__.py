"""Apps of the fidelity tests, each run as its own process by the test (`ManagedProcess`)
and recording what it received as JSON lines (`records`)."""
