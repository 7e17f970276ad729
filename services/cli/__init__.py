"""`sagactl` (`python -m services.cli`): the platform's command line over the management API."""

from services.cli.main import main

__all__ = ["main"]
