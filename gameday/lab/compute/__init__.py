"""The lab's Compute Engine: VMs and managed instance groups behind a GCE v1 REST endpoint.

labd builds a `ComputeModel` from a `ClusterLayout`, the hollow-node fleet (`NodeHost`) and the
timing profile, mounts it with `add_routes(app, model)`, and awaits `model.start()`. Game days
then drive it with the real `google-cloud-compute` clients pointed at labd's address.
"""

from gameday.lab.compute.api import add_routes
from gameday.lab.compute.errors import ComputeApiError
from gameday.lab.compute.layout import ClusterLayout, NodePool
from gameday.lab.compute.model import ComputeModel, HistoryEvent, Instance

__all__ = ["ClusterLayout", "ComputeApiError", "ComputeModel", "HistoryEvent", "Instance",
           "NodePool", "add_routes"]
