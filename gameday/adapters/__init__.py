"""Adapters: the only modules that reach outside systems.

kube.py imports `kubernetes`, compute.py imports `google.cloud`, prometheus.py talks HTTP to
Prometheus; everything above them (faults, load, SLOs) goes through these seams.
"""
