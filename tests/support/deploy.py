"""The shipped monitoring stack (deploy/): its files and the real binaries that read them.

Prometheus, promtool, Alertmanager and amtool come from the Debian packages `prometheus`
and `prometheus-alertmanager` (`make test` installs them); a missing one fails the test
with what to install, never a skip. The processes a test starts (`running`) get free ports,
a temporary directory and their output in a log there, shown when they fail to start.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.backends import free_port
from tests.support.fleet import clean_environment, running
from tests.support.telegram import TelegramStandIn

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "rules" / "smsfleet.rules.yml"
RULES_TESTS = DEPLOY / "prometheus" / "rules" / "smsfleet.rules.test.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
ALERTMANAGER_TEMPLATES = DEPLOY / "alertmanager" / "templates"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "fleet.json"
GRAFANA_PROVISIONING = DEPLOY / "grafana" / "provisioning"

WAIT_TIMEOUT = 60.0
BOT_TOKEN = "123456:deploy-test-token"
# The chat each shipped receiver sends to in the tests.
FLEET_CHAT = -1001000000001
ONCALL_CHAT = -1001000000002
CHATS = {"telegram-fleet": FLEET_CHAT, "telegram-oncall": ONCALL_CHAT}

# Binary names → the Debian package that brings them. Debian names Alertmanager's daemon
# `prometheus-alertmanager`; upstream archives name it `alertmanager`.
PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}


def binary(name: str, *aliases: str) -> str:
    """The path of the command `name` (or one of its aliases); fails the test when missing."""
    for candidate in (name, *aliases):
        found = shutil.which(candidate)
        if found is not None:
            return found
    package = PACKAGES[name]
    pytest.fail(
        f"`{name}` is not installed: run `scripts/debian-packages.sh {package}`"
        f" (or `apt-get install -y {package}`)",
        pytrace=False,
    )


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard: panels, template variables, annotations."""
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    expressions = [target["expr"] for panel in panels for target in panel["targets"]]
    expressions += [
        variable["query"]["query"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    expressions += [
        annotation["expr"]
        for annotation in dashboard["annotations"]["list"]
        if "expr" in annotation
    ]
    return expressions


def wait_for(what: str, check: Callable[[], bool], explain: Callable[[], str]) -> None:
    """Polls `check` until true; fails with `what` and `explain()` after WAIT_TIMEOUT."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {WAIT_TIMEOUT:.0f} s; {explain()}", pytrace=False)
        time.sleep(0.25)


@contextmanager
def running_alertmanager(work: Path, *, telegram: TelegramStandIn) -> Iterator[str]:
    """Alertmanager on the shipped configuration, its receivers aimed at the stand-in's
    chats (`CHATS`); yields its URL."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config["global"]["telegram_api_url"] = telegram.url
    config["templates"] = [str(ALERTMANAGER_TEMPLATES / "*.tmpl")]
    # A second instead of the shipped group wait and interval, so messages leave at once;
    # the grouping, matchers, inhibitions and receivers stay the shipped ones.
    for route in [config["route"], *config["route"].get("routes", [])]:
        route.update(group_wait="1s", group_interval="1s")
    for receiver in config["receivers"]:
        for telegram_config in receiver["telegram_configs"]:
            telegram_config.update(bot_token=BOT_TOKEN, chat_id=CHATS[receiver["name"]])
    path = work / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary("prometheus-alertmanager", "alertmanager"),
        f"--config.file={path}",
        f"--storage.path={work / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # a single instance: no gossip port
    ]
    with running(argv, env=clean_environment(), work=work, ready=f"{url}/-/ready"):
        yield url
