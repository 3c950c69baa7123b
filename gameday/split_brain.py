"""Split brain during a zone partition: the app's pods the control plane lost, and their copies.

Why a watcher of its own: a partitioned zone's pods are not dead, only unseen. The node
controller marks them NotReady and evicts them (they show as Terminating for as long as their
kubelet cannot confirm), the ReplicaSet starts replacements elsewhere, and for that whole time
the app runs more copies than it asked for — which breaks singletons, leader election and
StatefulSet identity. Nothing in the cluster counts that, so this samples it: every `interval_s`
the app's pods in the zone that have not finished (presumed still running: nothing could stop
them) and its ready pods outside the zone. `duplicates` is how far their sum exceeds the
Deployment's replicas. The counts go to the evidence as series (the report's timeline draws
them), each change of `duplicates` as an event, and the peak and duration as figures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gameday.errors import GamedayError

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter
    from gameday.evidence import Evidence

SERIES = ("split_brain.stale_in_zone", "split_brain.ready_outside", "split_brain.duplicates")
JOIN_TIMEOUT_S = 15.0  # bounds one last sample in flight (the adapter's own timeout is 10 s)


@dataclass
class SplitBrain:
    """What was seen; `samples` are (unix s, stale in zone, ready outside, duplicates)."""

    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def peak(self) -> int:
        return max((s[3] for s in self.samples), default=0)

    def seconds_with_duplicates(self) -> float:
        """Time between samples while duplicates were > 0 (each sample holds until the next)."""
        spans = zip(self.samples, self.samples[1:], strict=False)
        return sum(b[0] - a[0] for a, b in spans if a[3] > 0)


class SplitBrainWatch:
    """`with SplitBrainWatch(...) as seen:` samples in a thread until the block ends."""

    def __init__(self, kube: KubeAdapter, namespace: str, selector: str, zone: str,
                 replicas: int, evidence: Evidence, *, interval_s: float = 1.0) -> None:
        self.kube = kube
        self.namespace, self.selector, self.zone = namespace, selector, zone
        self.replicas = replicas
        self.evidence = evidence
        self.interval_s = interval_s
        self.seen = SplitBrain()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def sample(self) -> tuple[int, int, int]:
        """(stale in zone, ready outside, duplicates) now."""
        zone_nodes = {n.name for n in self.kube.list_nodes() if n.zone == self.zone}
        pods = [p for p in self.kube.list_pods(self.namespace, self.selector) if not p.finished]
        stale = sum(1 for p in pods if p.node in zone_nodes)
        outside = sum(1 for p in pods if p.node not in zone_nodes and p.ready
                      and not p.terminating)
        return stale, outside, max(0, stale + outside - self.replicas)

    def _run(self) -> None:
        last = -1
        while not self._stop.is_set():
            try:
                stale, outside, dup = self.sample()
            except GamedayError as exc:  # one failed read is a gap in the series, not the end
                self.seen.errors.append(str(exc))
            else:
                now = time.time()
                self.seen.samples.append((now, stale, outside, dup))
                if dup != last:
                    self.evidence.event(
                        "split_brain", f"{stale + outside} pods for {self.replicas} replicas: "
                        f"{stale} unreachable in {self.zone} (still running as far as anyone "
                        f"knows) + {outside} ready elsewhere = {dup} duplicate(s)",
                        source="gameday", data={"stale": stale, "outside": outside,
                                                "duplicates": dup})
                    last = dup
            self._stop.wait(self.interval_s)

    def __enter__(self) -> SplitBrain:
        self._started = time.time()
        self._thread = threading.Thread(target=self._run, name="split-brain", daemon=True)
        self._thread.start()
        return self.seen

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
        samples = self.seen.samples
        for i, name in enumerate(SERIES, start=1):
            self.evidence.series[name] = [(s[0], float(s[i])) for s in samples]
        self.evidence.figures["duplicates_peak"] = float(self.seen.peak)
        self.evidence.figures["duplicates_s"] = self.seen.seconds_with_duplicates()
        first = next((s[0] for s in samples if s[3] > 0), None)
        if first is not None:
            self.evidence.figures["first_duplicate_s"] = first - self._started
