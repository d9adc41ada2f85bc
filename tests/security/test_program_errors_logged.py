"""What the harness logs of a program's exception, in the session's log a viewer reads: the
type and a cleaned text. No URL's query (the review's submit put the code in one), none of
the attempt's code, test number or message, no line of its own (an exception's newline
made a forged-looking second line), bounded; the program's error reports get it as raised."""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsfleet.worker import Attempt, ControlPlane, Worker
from smsfleet.worker import _harness as harness
from smsfleet.worker._harness import ERROR_TEXT_MAX, error_text
from tests.unit.worker.fakes import (
    DELIVERED,
    PHONE,
    SESSION,
    Calls,
    FakeControlPlane,
    FakeGateway,
    grant,
    make_worker,
    program_classes,
    settings,
)

CODE = str(DELIVERED["code"])
MESSAGE = "Your code is 123456. Do not share it."
SUBMIT_URL = "http://127.0.0.1:8601/providers/provider1/submit"


def _run(worker: Worker) -> int:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(worker.run()))
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the worker did not stop"
    return result[0]


def _grant(trigger_id: str) -> dict[str, Any]:
    return {**grant(trigger_id), "message": MESSAGE}


def _not_allowed(request: httpx.Request) -> httpx.Response:
    return httpx.Response(405, request=request)


class _SubmitByGet:
    """The review's program: it submits the code in a GET's query, refused with a 405."""

    def __init__(self, *, attempt: Attempt) -> None:
        self.attempt = attempt

    def SumitOtp(self, trigger_id: str, code: str) -> object:  # noqa: N802
        with httpx.Client(transport=httpx.MockTransport(_not_allowed)) as client:
            params = {"trigger_id": trigger_id, "code": code}
            client.get(SUBMIT_URL, params=params).raise_for_status()
        return True


def _lines(out: io.StringIO, marker: str) -> list[str]:
    return [line for line in out.getvalue().splitlines() if marker in line]


def _shows_none_of_the_attempt(text: str) -> None:
    for secret in (CODE, PHONE, PHONE.lstrip("+"), MESSAGE, "trigger_id=", "code="):
        assert secret not in text


def test_a_failed_submit_logs_one_line_without_the_url_query_or_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised: list[BaseException] = []
    monkeypatch.setattr(harness, "report_exception", lambda exc, **_: raised.append(exc))
    cp = FakeControlPlane(leases=[_grant("t-1")])
    gateway = FakeGateway(states={"t-1": [DELIVERED]})
    out = io.StringIO()
    send_cls, _ = program_classes(Calls())
    worker = Worker(
        send_cls,
        _SubmitByGet,
        settings=settings(tmp_path / "spool"),
        control_plane=cp.client(),
        gateway=gateway.client(),
        out=out,
        code_timeout=1.0,
        poll_interval=0.01,
    )
    assert _run(worker) == 0
    assert cp.reports[0]["error_code"] == "submit_failed"
    (line,) = _lines(out, "submit failed")
    assert "submit failed: HTTPStatusError: Client error '405 Method Not Allowed' for url" in line
    assert f"'{SUBMIT_URL}'" in line
    _shows_none_of_the_attempt(out.getvalue())
    # The exception's own second line ("For more information check: ...") is not a line.
    assert not any(line.startswith("For more") for line in out.getvalue().splitlines())
    assert "For more information" in line
    # The program's error reports (its Sentry) still get the exception as raised.
    assert f"code={CODE}" in str(raised[0])


def test_a_failed_send_logs_its_error_without_the_number_message_or_breaks(
    tmp_path: Path,
) -> None:
    calls = Calls()
    calls.fail_with = RuntimeError(
        f"no route for {PHONE} ({PHONE.lstrip('+')}):\r\n{MESSAGE}\n2030-01-01T00:00:00Z"
        f" {SESSION} trigger=t-9 outcome=delivered\x1b[2J\u2028" + "x" * 5000
    )
    cp = FakeControlPlane(leases=[_grant("t-1")])
    out = io.StringIO()
    assert _run(make_worker(tmp_path, cp, FakeGateway(), calls, out)) == 0
    (line,) = _lines(out, "trigger=t-1 failed")
    assert "RuntimeError: no route for ••• (•••):  ••• 2030-01-01T00:00:00Z" in line
    assert "\x1b" not in line and "\u2028" not in line
    assert len(line) < ERROR_TEXT_MAX + 100
    assert "trigger=t-9" not in out.getvalue().replace(line, "")
    _shows_none_of_the_attempt(out.getvalue())


@pytest.mark.parametrize(
    ("message", "carried"),
    [
        ("Ваш код: 482913. Не сообщайте его.", "482913"),  # noqa: RUF001
        ("smsfleet test a3f9c2e1", "a3f9c2e1"),
    ],
)
def test_a_failed_send_hides_the_code_however_its_error_repeats_the_message(
    tmp_path: Path, message: str, carried: str
) -> None:
    """A provider's error may say the message JSON- or URL-escaped, or cut short: the
    code or value it carries is hidden all the same."""
    repeated = [
        json.dumps({"text": message}),
        urllib.parse.urlencode({"text": message}),
        urllib.parse.quote(message),
        message[: message.index(carried) + len(carried) + 1],
        f"code {carried} is not valid",
    ]
    for number, said in enumerate(repeated):
        calls = Calls()
        calls.fail_with = RuntimeError(f"refused: {said}")
        cp = FakeControlPlane(leases=[{**grant(f"t-{number}"), "message": message}])
        out = io.StringIO()
        assert _run(make_worker(tmp_path / str(number), cp, FakeGateway(), calls, out)) == 0
        (line,) = _lines(out, f"trigger=t-{number} failed")
        assert carried not in out.getvalue(), line
        assert "refused: " in line and "•••" in line


def test_an_attempts_error_once_its_code_came_hides_the_code(tmp_path: Path) -> None:
    class SubmitSMS:
        def __init__(self, *, attempt: Attempt) -> None:
            raise ValueError(f"looked the code up itself: {CODE}")

        def SumitOtp(self, trigger_id: str, code: str) -> object:  # noqa: N802
            return True

    send_cls, _ = program_classes(Calls())
    cp = FakeControlPlane(leases=[_grant("t-1")])
    out = io.StringIO()
    worker = Worker(
        send_cls,
        SubmitSMS,
        settings=settings(tmp_path / "spool"),
        control_plane=cp.client(),
        gateway=FakeGateway(states={"t-1": [DELIVERED]}).client(),
        out=out,
        code_timeout=1.0,
        poll_interval=0.01,
    )
    assert _run(worker) == 0
    (line,) = _lines(out, "trigger=t-1 failed")
    assert line.endswith("failed: ValueError: looked the code up itself: •••")
    assert CODE not in out.getvalue()


def test_a_refusal_from_the_control_plane_is_one_line(tmp_path: Path) -> None:
    def refuse(_request: httpx.Request) -> httpx.Response:
        message = "bad token\n2030-01-01T00:00:00Z program1 stopped: every attempt reported"
        body = {"error": {"code": "unauthorized", "message": message, "details": None}}
        return httpx.Response(401, json=body)

    out = io.StringIO()
    worker = Worker(
        *program_classes(Calls()),
        settings=settings(tmp_path / "spool"),
        control_plane=ControlPlane(
            "http://cp.test", token="x", session=SESSION, transport=httpx.MockTransport(refuse)
        ),
        gateway=FakeGateway().client(),
        out=out,
    )
    assert _run(worker) == 3
    (line,) = _lines(out, "refused the lease")
    assert line.endswith(
        "401 unauthorized: bad token 2030-01-01T00:00:00Z program1 stopped:"
        " every attempt reported; exiting"
    )
    assert not any(line.startswith("2030-01-01") for line in out.getvalue().splitlines())


def test_error_text_cleans_urls_secrets_and_control_characters() -> None:
    exc = OSError(
        "GET https://user:pa55@provider.test:8443/v1/otp?phone=%2B998&code=1#frag failed;"
        " see http://host.test/a/b#top\tthen\x00\x7f\x85\u200e\u2029end"
    )
    assert error_text(exc) == (
        "OSError: GET https://provider.test:8443/v1/otp failed; see http://host.test/a/b"
        " then     end"
    )
    assert error_text(ValueError("a 1234 b"), hide=["1234", None, ""]) == "ValueError: a ••• b"
    assert error_text(ValueError("x"), named=False) == "x"
    long = error_text(ValueError("y" * 10_000))
    assert len(long) == len("ValueError: ") + ERROR_TEXT_MAX and long.endswith("…")
