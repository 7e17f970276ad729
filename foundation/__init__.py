"""What every process of the platform stands on, whatever runtime or app it is: one log
format, one Go-duration grammar, one way to read settings from the environment.

It imports nothing from the rest of the project, so the sidecar, the services, the operator
and the tools can all use it without depending on one another.
"""
