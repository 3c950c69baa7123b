"""The lab's cluster-state exporter: kube-state-metrics' series, plus http_sd for annotated pods.

    python -m gameday.lab.kubestate --kubeconfig PATH --context gameday-lab \
        --listen 127.0.0.1:PORT

Scenarios query `kube_node_status_condition`, `kube_pod_status_ready`,
`kube_deployment_status_replicas_available` ... with the same PromQL on the lab and on a GKE
cluster running kube-state-metrics. Modules: `exposition` (text format writer), `metrics` (objects
-> ksm families, pure), `sd` (objects -> http_sd targets, pure), `store` (the watch cache),
`server` (HTTP and watches), `__main__` (the process).
"""
