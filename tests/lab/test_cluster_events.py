"""Cluster events reach the timeline: a real Event from the real controllers, seen once."""

from __future__ import annotations

import datetime as dt

from kubernetes import client

from gameday.adapters.kube import KubeAdapter
from gameday.adapters.kube_types import ClusterEvent
from gameday.cluster_events import EventRecorder
from tests.conftest import LabHandle
from tests.helpers import deployment, eventually


def test_scaling_a_deployment_is_recorded_once(lab: LabHandle, apps: client.AppsV1Api,
                                               namespace: str) -> None:
    seen: list[ClusterEvent] = []
    kube = KubeAdapter(lab.kubeconfig, lab.context)
    recorder = EventRecorder(kube, lambda e, _when: seen.append(e),
                             since=dt.datetime.now(dt.UTC), interval=0.2).start()
    try:
        apps.create_namespaced_deployment(namespace, deployment("ev", "nginx:1.25",
                                                                replicas=1, spread=False))
        eventually(lambda: any(e.reason == "ScalingReplicaSet" and namespace in e.object
                               for e in seen), 20, "a ScalingReplicaSet event")
    finally:
        recorder.stop()
        kube.close()
    scaling = [e for e in seen if e.reason == "ScalingReplicaSet" and namespace in e.object]
    assert len({e.uid for e in scaling}) == len(scaling)  # each occurrence once
    assert scaling[0].object == f"Deployment/{namespace}/ev"
    assert recorder.errors == []
