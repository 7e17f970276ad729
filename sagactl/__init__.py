"""`sagactl` (`python -m sagactl`): the platform's command line over the management API."""

from sagactl.main import main

__all__ = ["main"]
