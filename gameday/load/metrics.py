"""The client-side metrics contract between the Locust exporter and the SLOs that read them.

A module of its own, importing nothing heavy, because both sides need it: the exporter runs
inside Locust (gevent), the SLO defaults and their test kit run inside pytest (no Locust).
"""

REQUESTS = "gameday_load_requests"  # counter, exposed as gameday_load_requests_total
DURATION = "gameday_load_request_duration_seconds"  # histogram
RUN_LABEL = "gameday_run"  # set by the exporter itself: the same under any scraping job
PREFIX = "gameday_load_"  # every client-side series: a verdict reading one judges the load
# bucket bounds include the usual latency SLO thresholds, so those quantiles are exact
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
