"""gameday: game days for Kubernetes on GKE, written as pytest tests.

This top-level module stays light (the pytest plugin imports it): heavy libraries
(kubernetes, google-cloud-compute, locust) are imported only by the modules that need them.
"""

from gameday.errors import GamedayError

__all__ = ["GamedayError"]
__version__ = "0.1.0"
