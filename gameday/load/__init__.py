"""Load during the fault: Locust in child processes, client-side metrics, typed results.

The harness side imports no Locust (gevent must stay out of the pytest process); Locust itself
imports `exporter`, `guard`, `wrapper.classes_of` and `default_user` in its own process.
"""

from gameday.errors import LoadError
from gameday.load.runner import LoadRun
from gameday.load.spec import LoadSpec
from gameday.load.stats import LoadResult, RequestTotals, TimelinePoint

__all__ = ["LoadError", "LoadResult", "LoadRun", "LoadSpec", "RequestTotals", "TimelinePoint"]
