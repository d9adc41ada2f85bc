"""The shipped Prometheus, Alertmanager and Grafana files pass their own tools' checks."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from smsfleet.dispatch.goals import ReasonKind
from tests.support.deploy import (
    ALERTMANAGER_CONFIG,
    DASHBOARD,
    GRAFANA_PROVISIONING,
    PROMETHEUS_CONFIG,
    RULES,
    RULES_TESTS,
    binary,
    dashboard_expressions,
)

# A label of a series in the promtool tests: name="value".
LABEL = re.compile(r'(\w+)="([^"]*)"')
# Every alert a pair-level or session-level alert may be inhibited by or grouped on carries these.
ROUTE_LABELS = {"country", "pair", "program"}


def run(argv: list[str], cwd: Path) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{output}"
    return output


def test_alert_rules_pass_their_unit_tests() -> None:
    output = run([binary("promtool"), "test", "rules", RULES_TESTS.name], cwd=RULES_TESTS.parent)
    assert "SUCCESS" in output


def test_prometheus_config_and_its_rules_are_valid() -> None:
    output = run(
        [binary("promtool"), "check", "config", PROMETHEUS_CONFIG.name], PROMETHEUS_CONFIG.parent
    )
    assert "1 rule files found" in output


def test_alertmanager_config_and_template_are_valid() -> None:
    output = run(
        [binary("amtool"), "check-config", ALERTMANAGER_CONFIG.name], ALERTMANAGER_CONFIG.parent
    )
    assert "1 templates" in output


def test_every_alert_is_labelled_with_severity_and_annotated() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert {alert["alert"] for alert in alerts} == {
        "SmsfleetRouteSuccessLow",
        "SmsfleetSessionCrashed",
        "SmsfleetSessionDown",
        "SmsfleetCountryUnderTarget",
        "SmsfleetControlPlaneDown",
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def test_the_rule_tests_give_the_country_reasons_the_control_plane_exports() -> None:
    """The promtool tests' `smsfleet_country_goal_short` series are ones /metrics may show."""
    tests = yaml.safe_load(RULES_TESTS.read_text())["tests"]
    series = [
        dict(LABEL.findall(entry["series"]))
        for test in tests
        for entry in test["input_series"]
        if entry["series"].startswith("smsfleet_country_goal_short{")
    ]
    assert series
    for labels in series:
        assert labels["reason"] == ReasonKind(labels["reason_kind"]).words


def test_alertmanager_groups_by_country_and_inhibits_a_downed_sessions_route() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert set(config["route"]["group_by"]) == {"alertname", "country"}
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    assert all(receiver["telegram_configs"] for receiver in receivers.values())
    down = next(
        rule
        for rule in config["inhibit_rules"]
        if rule["source_matchers"] == ['alertname="SmsfleetSessionDown"']
    )
    assert "SmsfleetRouteSuccessLow" in down["target_matchers"][0]
    assert set(down["equal"]) <= ROUTE_LABELS


def test_dashboard_panels_query_the_templated_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert variables == {"datasource", "country", "pair"}
    used = " ".join(dashboard_expressions(dashboard))
    assert "$country" in used and "$pair" in used


def test_grafana_provisioning_names_the_datasource_and_the_dashboards() -> None:
    datasources = yaml.safe_load(
        (GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text()
    )
    assert [source["type"] for source in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((GRAFANA_PROVISIONING / "dashboards" / "smsfleet.yml").read_text())
    assert [provider["type"] for provider in providers["providers"]] == ["file"]
