"""The shipped dashboard and alert rules (deploy/) query only metrics the gateway exposes:
a renamed family would leave a panel empty and an alert silent, with nothing failing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from proxy.observability.metrics import Metrics
from schemas.config import Config, MetricsConfig

DEPLOY = Path(__file__).parents[2] / "deploy"
NAME = re.compile(r"\b(?:unigate|gen_ai)_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed() -> tuple[set[str], set[str]]:
    """The sample names a scrape can hold, and the label names (gen_ai_* ones look alike)."""
    metrics = Metrics(Config(metrics=MetricsConfig(per_key=True)))
    names: set[str] = set()
    for family in metrics.registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    labels = {label for metric in vars(metrics).values() for label in getattr(metric, "_labelnames", ())}
    return names, labels


def queries() -> dict[str, str]:
    """Each alert's and panel's PromQL, by its name."""
    found: dict[str, str] = {}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            found[rule["alert"]] = rule["expr"]
    dashboard = json.loads((DEPLOY / "grafana" / "unigate.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found[f"{panel['title']} {target['refId']}"] = target["expr"]
    return found


def test_every_query_names_an_exposed_metric() -> None:
    names, labels = exposed()
    assert "unigate_breaker_transitions_total" in names
    found = queries()
    assert "UnigateBreakerFlapping" in found
    for where, expression in found.items():
        used = set(NAME.findall(expression)) - labels
        assert used, f"{where} queries no unigate metric"
        assert used <= names, f"{where} queries {sorted(used - names)}, which the gateway does not expose"
