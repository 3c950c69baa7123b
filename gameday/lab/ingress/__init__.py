"""The lab's GCLB-like ingress load balancer (ingress-gce with NEGs, emulated on loopback).

Layers, from pure to I/O: `healthcheck` (state machine), `urlmap` (host/path matching),
`backendconfig` + `translate` (API dicts -> `LbConfig`), `pool` (endpoints and their health),
`prober` (active checks), `proxy` + `admin` (HTTP servers), `lb` (the whole, fed `LbConfig`s),
`watcher` (with gameday.lab.kubewatch, the only importers of `kubernetes`),
`__main__` (the process).
"""

from gameday.lab.ingress.healthcheck import HealthCheckSettings, HealthState
from gameday.lab.ingress.lb import LoadBalancer
from gameday.lab.ingress.translate import ClusterObjects, LbConfig, translate

__all__ = ["ClusterObjects", "HealthCheckSettings", "HealthState", "LbConfig", "LoadBalancer",
           "translate"]
