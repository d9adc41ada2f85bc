"""A degraded route, end to end through the shipped monitoring stack, with the real binaries.

`smsfleet serve`, the gateway simulator, one program in GNU screen for one pair, Prometheus
and Alertmanager each run as a process of its own on a free port with a temporary directory;
only Telegram is a stand-in on loopback. The route is degraded through the simulator's admin
API; the control plane's /metrics → the shipped Prometheus rule → the shipped Alertmanager
route and receiver → a Telegram message naming the pair. Then every PromQL expression of the
Grafana dashboard is evaluated against that Prometheus and must return series.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.backends import free_port
from tests.support.deploy import (
    BOT_TOKEN,
    DASHBOARD,
    ONCALL_CHAT,
    PROMETHEUS_CONFIG,
    REPO,
    RULES,
    binary,
    dashboard_expressions,
    running_alertmanager,
    wait_for,
)
from tests.support.fleet import admin_client, clean_environment, quit_screens, running
from tests.support.telegram import TelegramStandIn

PAIR = "UZ_uzmobile"
SESSION = f"program1_{PAIR}"
# What the dashboard's template variables stand for in the test.
DASHBOARD_VARIABLES = {
    "${datasource}": "",
    "$__rate_interval": "1m",
    "$country": "UZ",
    "$pair": PAIR,
}

# Fast and reliable until the test degrades the route.
SIMULATOR_CONFIG = f"""
[simulator]
code_length = 6

[defaults]
delivery_probability = 1.0
send_error_rate = 0.0
give_up_after_seconds = 0.3

[defaults.latency]
distribution = "uniform"
min_seconds = 0.05
max_seconds = 0.2

[routes.{PAIR}]
phones = ["+998901234567"]
"""


@dataclass(frozen=True)
class Stack:
    control_plane: str
    simulator: str
    prometheus: str


def prometheus_files(work: Path, *, target: str, alertmanager: str) -> Path:
    """The shipped prometheus.yml and rules, aimed at the test's processes."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    # Seconds instead of the shipped 15 s so the rules act within the test.
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["scrape_configs"][0]["static_configs"] = [{"targets": [target]}]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    rules = yaml.safe_load(RULES.read_text())
    # Only the `for:` durations are dropped: the expressions, labels and annotations stay.
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    rules_dir = work / "rules"
    rules_dir.mkdir()
    (rules_dir / RULES.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10)
    assert response.status_code == 200, f"{expression}: {response.text}"
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def seed_and_start(client: httpx.Client) -> None:
    """UZ's cap raised so the route builds volume in seconds; one high-priority pair (never
    paused by the control plane's policy, so it keeps sending while degraded), one program."""
    client.patch("/api/v1/countries/UZ?force=true", json={"cap": 600}).raise_for_status()
    program = [sys.executable, str(REPO / "programs" / "program1.py")]
    client.post(
        "/api/v1/programs",
        json={"name": "program1", "command": program, "provider": "provider1"},
    ).raise_for_status()
    client.post(
        "/api/v1/pairs",
        json={
            "country": "UZ",
            "operator": "UzMobile",
            "slug": "uzmobile",
            "phone_numbers": ["+998901234567"],
            "programs": ["program1"],
            "is_high_priority": True,
        },
    ).raise_for_status()
    wait_for(
        f"the session {SESSION} was not created",
        lambda: SESSION in {s["name"] for s in client.get("/api/v1/sessions").json()},
        lambda: str(client.get("/api/v1/sessions").json()),
    )
    client.post(
        f"/api/v1/sessions/{SESSION}/start", json={"reason": "monitoring test"}
    ).raise_for_status()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, TelegramStandIn]]:
    if shutil.which("screen") is None:
        pytest.fail("GNU screen is missing: install it with `apt-get install -y screen`")
    prometheus = binary("prometheus")
    ports = {name: free_port() for name in ("simulator", "control", "prometheus")}
    urls = Stack(
        simulator=f"http://127.0.0.1:{ports['simulator']}",
        control_plane=f"http://127.0.0.1:{ports['control']}",
        prometheus=f"http://127.0.0.1:{ports['prometheus']}",
    )
    # Short on purpose: screen's socket paths must fit a Unix socket address.
    screen_dir = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    password = f"Deploy-{secrets.token_urlsafe(18)}"
    (tmp_path / "simulator.toml").write_text(SIMULATOR_CONFIG)
    control_env = {
        **clean_environment(),
        "SMSFLEET_DATA_DIR": str(tmp_path / "data"),
        "SMSFLEET_ADMIN_PASSWORD": password,
        "SMSFLEET_SCREEN_DIR": str(screen_dir),
        "SMSFLEET_SIMULATOR_URL": urls.simulator,
        "SMSFLEET_PUBLIC_URL": urls.control_plane,
    }
    with ExitStack() as stack, TelegramStandIn(token=BOT_TOKEN) as telegram:
        stack.callback(shutil.rmtree, screen_dir, ignore_errors=True)
        stack.callback(quit_screens, screen_dir)
        stack.enter_context(
            running(
                [
                    sys.executable,
                    "-m",
                    "smsfleet.simulator",
                    "--port",
                    str(ports["simulator"]),
                    "--config",
                    str(tmp_path / "simulator.toml"),
                ],
                env=clean_environment(),
                work=tmp_path,
                ready=f"{urls.simulator}/healthz",
            )
        )
        smsfleet = str(Path(sys.executable).parent / "smsfleet")
        stack.enter_context(
            running(
                [smsfleet, "serve", "--port", str(ports["control"])],
                env=control_env,
                work=tmp_path,
                ready=f"{urls.control_plane}/healthz",
            )
        )
        alertmanager = stack.enter_context(running_alertmanager(tmp_path, telegram=telegram))
        prom_config = prometheus_files(
            tmp_path,
            target=f"127.0.0.1:{ports['control']}",
            alertmanager=alertmanager.removeprefix("http://"),
        )
        stack.enter_context(
            running(
                [
                    prometheus,
                    f"--config.file={prom_config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                ],
                env=clean_environment(),
                work=tmp_path,
                ready=f"{urls.prometheus}/-/ready",
            )
        )
        client = stack.enter_context(admin_client(urls.control_plane, password))
        seed_and_start(client)
        stack.callback(
            lambda: client.post(f"/api/v1/sessions/{SESSION}/stop", json={"force": True})
        )
        yield urls, telegram


def test_a_degraded_route_reaches_telegram_and_every_dashboard_query_answers(
    stack: tuple[Stack, TelegramStandIn],
) -> None:
    urls, telegram = stack

    def delivered() -> float:
        result = query(urls.prometheus, f'sum(smsfleet_sms_delivered_total{{pair="{PAIR}"}})')
        return float(result[0]["value"][1]) if result else 0.0

    def explain() -> str:
        alerts = query(urls.prometheus, "ALERTS")
        ratio = query(urls.prometheus, "smsfleet:route_success_ratio:30m")
        attempts = query(urls.prometheus, "smsfleet:route_attempts:increase30m")
        return (
            f"Prometheus' alerts {alerts}, route ratio {ratio}, route attempts {attempts};"
            f" Telegram received {telegram.messages}"
        )

    # A healthy start gives the dashboard deliveries and latencies to show.
    wait_for("the route did not deliver 5 SMS", lambda: delivered() >= 5, explain)
    degrade = httpx.patch(
        f"{urls.simulator}/admin/routes/{PAIR}",
        json={"delivery_probability": 0.0, "send_error_rate": 0.5},
        timeout=10,
    )
    assert degrade.status_code == 200, degrade.text

    def oncall_messages() -> list[str]:
        # Critical alerts go to the on-call receiver's chat.
        return [
            m.text for m in telegram.messages if int(m.chat_id) == ONCALL_CHAT and PAIR in m.text
        ]

    wait_for(
        "no Telegram message named the degraded pair", lambda: bool(oncall_messages()), explain
    )
    message = oncall_messages()[0]
    assert all(m.parse_mode == "HTML" for m in telegram.messages)
    assert "<b>SmsfleetRouteSuccessLow</b> in UZ" in message
    assert "<b>CRITICAL</b> UZ_uzmobile via program1" in message

    empty = []
    for expression in dashboard_expressions(json.loads(DASHBOARD.read_text())):
        promql = expression
        for variable, value in DASHBOARD_VARIABLES.items():
            promql = promql.replace(variable, value)
        label_values = re.fullmatch(r"label_values\((.+), (\w+)\)", promql)
        if label_values:
            selector, label = label_values.groups()
            series = query(urls.prometheus, selector)
            assert all(label in s["metric"] for s in series), promql
        else:
            series = query(urls.prometheus, promql)
        if not series:
            empty.append(promql)
    assert not empty, f"dashboard queries without series: {empty}"
