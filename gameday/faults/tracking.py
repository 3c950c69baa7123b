"""Follow lost nodes in the background and stamp the recovery timeline.

Why a thread: a game day keeps load running *while* the node is gone (the `with` body), so the
milestones (node NotReady, pods rescheduled, replacements Ready, node back) must be observed
concurrently. It polls (bounded, every `interval`) rather than watching, because a missed watch
event would silently lose a milestone; the times are stamped when a milestone is first seen.

A node counts as "back" only when a Node of that name is Ready with a *different* boot id: on
GKE the MIG recreates a VM under the same name, so the name alone proves nothing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gameday.adapters.kube import KubeAdapter, KubeApiError, NodeInfo, PodInfo
from gameday.errors import ConditionTimeout

MILESTONES = ("node_not_ready", "pods_rescheduled", "pods_ready", "node_back")


def _group(pod: PodInfo) -> tuple[str, tuple[tuple[str, str], ...]]:
    return pod.namespace, tuple(sorted(pod.labels.items()))


@dataclass
class NodeLossTracker:
    kube: KubeAdapter
    nodes: Sequence[NodeInfo]  # as they were before the fault
    pods: Sequence[PodInfo]  # the controller-owned pods on them before the fault
    emit: Callable[[str, str, dict], None]
    interval: float = 0.5
    expect_node_back: bool = True
    seen: dict[str, float] = field(default_factory=dict)  # milestone -> wall clock
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gameday-node-loss", daemon=True)
        self._existing: set[str] = set()

    def start(self) -> NodeLossTracker:
        # every pod that exists now is not a replacement, wherever it runs: counting the
        # surviving replicas on other nodes would declare recovery before it happened
        namespaces = sorted({p.namespace for p in self.pods})
        self._existing = {p.uid for ns in namespaces for p in self.kube.list_pods(ns)}
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10 * self.interval + 35)  # one in-flight call at most

    def wait(self, timeout: float) -> dict[str, float]:
        """Block until every expected milestone is seen; ConditionTimeout with what was."""
        if not self._done.wait(timeout):
            raise ConditionTimeout(f"recovery of {', '.join(n.name for n in self.nodes)}",
                                   timeout, {"seen": sorted(self.seen), "errors": self.errors})
        return dict(self.seen)

    def _expected(self) -> tuple[str, ...]:
        return MILESTONES if self.expect_node_back else MILESTONES[:-1]

    def _mark(self, milestone: str, message: str) -> None:
        if milestone not in self.seen:
            self.seen[milestone] = time.time()
            self.emit(milestone, message, {"nodes": [n.name for n in self.nodes]})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._observe()
            except KubeApiError as exc:  # apiserver hiccup: note it, keep following
                self.errors.append(str(exc))
            if all(m in self.seen for m in self._expected()):
                self._done.set()
                return
            self._stop.wait(self.interval)

    def _observe(self) -> None:
        names = {n.name: n for n in self.nodes}
        now = {n.name: n for n in self.kube.list_nodes() if n.name in names}
        if any(now.get(name) is None or not now[name].ready or now[name].boot_id != old.boot_id
               for name, old in names.items()):
            self._mark("node_not_ready", "node NotReady or gone")
        old_uids = {p.uid for p in self.pods}
        namespaces = {p.namespace for p in self.pods}
        current = [p for ns in sorted(namespaces) for p in self.kube.list_pods(ns)]
        live_old = [p for p in current if p.uid in old_uids and not p.terminating
                    and p.phase == "Running"]
        # no gating on node_not_ready: with GKE's graceful node shutdown the pods end (and are
        # replaced) before the node controller even notices the node is gone
        if not live_old:
            self._mark("pods_rescheduled", "the lost nodes' pods are gone or terminating")
        # a namespace being deleted takes its pods along: no replacement will ever come
        alive = {ns for ns in namespaces if not self.kube.namespace_terminating(ns)}
        wanted = Counter(_group(p) for p in self.pods if p.namespace in alive)
        ready = Counter(_group(p) for p in current
                        if p.uid not in self._existing and p.ready and not p.terminating)
        if "pods_rescheduled" in self.seen and all(ready[g] >= c for g, c in wanted.items()):
            self._mark("pods_ready", "replacement pods Ready")
        if "node_not_ready" in self.seen and all(
                now.get(name) is not None and now[name].ready
                and now[name].boot_id != old.boot_id for name, old in names.items()):
            self._mark("node_back", "node Ready again with a new boot id")
