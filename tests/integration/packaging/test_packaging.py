"""The two ways to install the production profile: docker-compose.yml and systemd units.

`docker-compose config` (Debian's `docker-compose`, installed by `make test`) checks the
compose file without a Docker engine; `systemd-analyze verify` checks the units, with
their /opt/smsfleet paths pointed at this checkout so that the commands exist.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from smsfleet.core.settings import Settings

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
SECRETS = {
    "SMSFLEET_SECRET_KEY": "k" * 48,
    "SMSFLEET_ADMIN_PASSWORD": "an-admin-password-for-tests",
    "MARIADB_PASSWORD": "a-database-password",
    "MONGODB_PASSWORD": "a-mongodb-password",
    "REDIS_PASSWORD": "a-redis-password",
    "GRAFANA_ADMIN_PASSWORD": "a-grafana-password",
    "SMSFLEET_SEARCH_TOKEN": "a-search-token",
}
SERVICES = {
    "mongodb",
    "mariadb",
    "redis",
    "control-plane",
    "search",
    "simulator",
    "prometheus",
    "alertmanager",
    "grafana",
}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is missing: `make test` installs it (apt-get install {package})")
    return path


def _compose_config(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [_tool("docker-compose", "docker-compose"), "-f", str(COMPOSE), "config"],
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_compose_file_is_valid_and_runs_the_whole_profile() -> None:
    result = _compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == SERVICES
    assert {service["network_mode"] for service in services.values()} == {"host"}
    control_plane = services["control-plane"]
    unknown = set(control_plane["environment"]) - set(Settings.variables())
    assert unknown == set(), f"settings the control plane does not have: {unknown}"
    # Every store takes a password: a session's program is a local client like any other.
    urls = control_plane["environment"]
    assert urls["SMSFLEET_CONFIG_URL"].startswith("mongodb://smsfleet:a-mongodb-password@")
    assert urls["SMSFLEET_METRICS_URL"].startswith("mysql+pymysql://smsfleet:a-database-password@")
    assert urls["SMSFLEET_REDIS_URL"].startswith("redis://:a-redis-password@")
    assert "--requirepass" in services["redis"]["command"]
    mongodb = services["mongodb"]["environment"]
    assert mongodb["MONGO_INITDB_ROOT_PASSWORD"] == SECRETS["MONGODB_PASSWORD"]
    assert control_plane["environment"]["SMSFLEET_SECRET_KEY"] == SECRETS["SMSFLEET_SECRET_KEY"]
    for name in ("mongodb", "mariadb", "redis"):
        assert control_plane["depends_on"][name]["condition"] == "service_healthy"
    # Every file the services mount is shipped.
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):
                assert Path(source).exists(), f"{name} mounts {source}, which is missing"


def test_the_compose_file_refuses_to_run_without_its_secrets() -> None:
    for missing in SECRETS:
        result = _compose_config({k: v for k, v in SECRETS.items() if k != missing})
        assert result.returncode != 0, missing
        assert missing in result.stderr, result.stderr


def test_the_image_copies_only_what_the_checkout_has() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    sources = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE)
    assert sources
    for line in sources:
        for source in line.split():
            assert (REPO / source).exists(), source
    assert 'CMD ["smsfleet", "serve"' in dockerfile


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = _tool("systemd-analyze", "systemd")
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {unit.name for unit in units} == {
        "smsfleet.service",
        "smsfleet-search.service",
        "smsfleet-simulator.service",
    }
    for unit in units:
        # The units name the install path; here the checkout stands in for it.
        text = unit.read_text().replace("/opt/smsfleet", str(REPO))
        (tmp_path / unit.name).write_text(text.replace("EnvironmentFile=", "EnvironmentFile=-"))
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / unit.name) for unit in units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
