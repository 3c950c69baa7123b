"""The apiserver's JSON read into the adapter's types: here, a Deployment's selector."""

from __future__ import annotations

import pytest

from gameday.adapters.kube_types import label_selector


@pytest.mark.parametrize("selector,query", [
    ({"matchLabels": {"app": "web"}}, "app=web"),
    ({"matchLabels": {"tier": "front", "app.kubernetes.io/name": "shop"}},
     "app.kubernetes.io/name=shop,tier=front"),
    ({"matchExpressions": [{"key": "track", "operator": "In", "values": ["a", "b"]},
                           {"key": "env", "operator": "NotIn", "values": ["dev"]},
                           {"key": "owner", "operator": "Exists"},
                           {"key": "legacy", "operator": "DoesNotExist"}]},
     "track in (a,b),env notin (dev),owner,!legacy"),
    ({}, ""),
])
def test_a_deployments_selector_as_a_label_query(selector: dict, query: str) -> None:
    assert label_selector(selector) == query
