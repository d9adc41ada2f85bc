"""Loading the TOML configuration, environment overrides, and the persisted ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smsfleet.demo import DEMO_PAIRS
from smsfleet.simulator import SimulatorConfigError, load_config
from smsfleet.simulator.__main__ import main
from smsfleet.simulator.config import SimulatorSettings, parse_config, resolve_route
from smsfleet.simulator.server import build_config
from tests.support.simulator import FakeClock, MakeClient, SendSms

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "simulator.toml"
# The demo's pairs, each with a route of its own in the example configuration.
DEMO_ROUTES = {f"{pair.country}_{pair.slug}" for pair in DEMO_PAIRS}


def test_example_config_loads_with_demo_routes_and_six_providers() -> None:
    config = load_config(EXAMPLE)
    assert set(config.routes) == DEMO_ROUTES
    assert set(config.providers) == {f"provider{n}" for n in range(1, 7)}
    for key, overlay in config.routes.items():
        assert resolve_route(config.defaults, overlay).phones, key
    tj = resolve_route(config.defaults, config.routes["TJ_megafon"])
    assert tj.latency.median_seconds == 15.0
    assert tj.latency.min_seconds == config.defaults.latency.min_seconds


def test_the_demos_deliveries_arrive_within_the_wait_for_a_code() -> None:
    """A program waits for a code until its lease is 5 s from ending (120 s): a demo route
    slower than that would read as failing, its SMS delivered after the test gave up."""
    config = load_config(EXAMPLE)
    slowest = max(provider.latency_factor for provider in config.providers.values())
    for key, overlay in config.routes.items():
        latency = resolve_route(config.defaults, overlay).latency
        assert latency.max_seconds * slowest <= 105, key


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "simulator.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults\n", "not valid TOML"),
        ("[defaults]\ndelivery_probabilty = 0.5\n", "defaults.delivery_probabilty"),
        ("[routes.uz]\n", "routes.uz"),
        ("[routes.UZ_x.latency]\nmedian_seconds = 500\n", "median_seconds must lie within"),
        ("[providers.p1]\noutage_cycle = { every_seconds = 10, duration_seconds = 20 }\n", "p1"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SimulatorConfigError, match=expected):
        load_config(_write(tmp_path, text))


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SimulatorConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSFLEET_SIMULATOR_ADMIN_TOKEN", "from-the-environment-0123456789")
    monkeypatch.setenv("SMSFLEET_SIMULATOR_TRUTH_LOG", str(tmp_path / "truth.jsonl"))
    monkeypatch.setenv("SMSFLEET_SIMULATOR_URL", "http://127.0.0.1:8100")  # read by programs only
    path = _write(tmp_path, '[simulator]\ntruth_log = "elsewhere.jsonl"\n')
    config = build_config(path, SimulatorSettings(_env_file=None))
    assert config.simulator.admin_token is not None
    assert config.simulator.admin_token.get_secret_value() == "from-the-environment-0123456789"
    assert config.simulator.truth_log == tmp_path / "truth.jsonl"


def test_module_entry_reports_bad_config_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "[defaults]\nnonsense = 1\n")
    assert main(["--port", "0", "--config", str(path)]) == 2
    assert "defaults.nonsense" in capsys.readouterr().err


def test_truth_survives_a_restart(
    tmp_path: Path, make_client: MakeClient, clock: FakeClock, send_sms: SendSms
) -> None:
    log = tmp_path / "truth" / "truth.jsonl"
    config = parse_config(
        {
            "simulator": {"truth_log": str(log)},
            "defaults": {
                "delivery_probability": 1.0,
                "send_error_rate": 0.0,
                "latency": {"distribution": "fixed", "median_seconds": 5.0},
            },
            "routes": {"AZ_azercell": {"outage": True}},
        }
    )
    first = make_client(config)
    submitted = send_sms(first).json()["trigger_id"]
    waiting = send_sms(first, trigger_id="client-7").json()["trigger_id"]
    assert send_sms(first, route="AZ_azercell", phone="+994501234567").status_code == 503
    clock.advance(5)
    code = first.get(f"/gateway/messages/{submitted}").json()["code"]
    first.post("/providers/provider1/submit", json={"trigger_id": submitted, "code": "999"})
    first.post("/providers/provider1/submit", json={"trigger_id": submitted, "code": code})
    before = first.get("/admin/truth").json()
    assert len(log.read_text().splitlines()) == 5

    second = make_client(config, seed=99)
    assert second.get("/admin/truth").json() == before
    assert second.get(f"/gateway/messages/{waiting}").json()["status"] == "delivered"
    again = second.post("/providers/provider1/submit", json={"trigger_id": submitted, "code": code})
    assert again.status_code == 409
    assert send_sms(second, trigger_id="client-7").json()["trigger_id"] == "client-7"
    assert second.get("/admin/truth").json()["total"]["triggered"] == 3

    # New triggers continue the sequence; a reset is logged, not a truncation.
    send_sms(second)
    assert [r["seq"] for r in second.get("/admin/truth").json()["records"]] == [1, 2, 3, 4]
    second.post("/admin/reset")
    lines = log.read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "reset"

    third = make_client(config)
    assert third.get("/admin/truth").json()["total"]["triggered"] == 0
    assert third.get(f"/gateway/messages/{waiting}").status_code == 404


def test_torn_last_line_is_skipped(
    tmp_path: Path, make_client: MakeClient, send_sms: SendSms
) -> None:
    log = tmp_path / "truth.jsonl"
    config = parse_config({"simulator": {"truth_log": str(log)}})
    send_sms(make_client(config))
    with log.open("a", encoding="utf-8") as handle:
        handle.write('{"event": "trigger", "seq": 2, "trig')
    second = make_client(config)
    assert second.get("/admin/truth").json()["total"]["triggered"] == 1
    send_sms(second)
    assert make_client(config).get("/admin/truth").json()["total"]["triggered"] == 2
