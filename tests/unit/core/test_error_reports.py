"""What an error report keeps and what it takes out, before anything leaves the process."""

from __future__ import annotations

import json

import sentry_sdk

from smsfleet.core.error_reports import scrub_event, start_error_reports

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"
API_KEY = "sfk_bc112e61_PwI1xI_Yl3N-_BPEDe5g2u-BrDWyENisSVjh8Fe9a7g"  # "-" in its secret
BOT_TOKEN = "123456789:ZZxqTcvCH1vGWJxfSeofSAs0K5PALDsab"
WORKER_TOKEN = "1767225600000." + "ab" * 32  # a creation stamp, then its digest


def test_secrets_and_phones_are_taken_out_wherever_they_are() -> None:
    event = {
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": f"send to +998991234567 failed with {JWT}; 998 99 123 45 67",
                }
            ]
        },
        "request": {
            "url": "http://cp/api/get-conversation/998991234567",
            "query_string": "phone=998991234567&token=abc&page=2",
            "headers": {
                "Authorization": f"Bearer {JWT}",
                "X-API-Key": API_KEY,
                "Accept": "*/*",
                "Referer": "http://h/?phone=%2B998991234567",
                "X-Forwarded-For": "10.1.2.3",
            },
            "env": {"REMOTE_ADDR": "10.1.2.3"},
            "cookies": {"refresh": "r"},
            "data": {"password": "p"},
        },
        "extra": {"note": f"key {API_KEY} for worker {WORKER_TOKEN}", "worker_token": "w"},
        "breadcrumbs": {
            "values": [
                {"message": "Authorization: Bearer abc.def"},
                # An HTTP client's breadcrumb: Telegram's Bot API has its token in the URL.
                {
                    "type": "http",
                    "data": {"url": f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"},
                },
                {"message": "pool to mysql+pymysql://smsfleet:S3cretPw@db:3306/metrics lost"},
            ]
        },
        "timestamp": "2026-12-02T17:16:06.123456Z",
        "tags": {"pair": "UZ_uzmobile", "service": "control-plane"},
    }
    scrubbed = scrub_event(event)
    text = json.dumps(scrubbed)
    for secret in (JWT, API_KEY, WORKER_TOKEN, "998991234567", "99 123 45 67", "abc"):
        assert secret not in text
    for part in (BOT_TOKEN.split(":")[1], "S3cretPw", "Yl3N", "BPEDe5g2u", "BrDWyENis"):
        assert part not in text
    crumbs = scrubbed["breadcrumbs"]["values"]
    assert crumbs[1]["data"]["url"] == "https://api.telegram.org/bot[redacted]/sendMessage"
    assert crumbs[2]["message"] == "pool to mysql+pymysql://[redacted]@db:3306/metrics lost"
    assert "Bearer abc.def" not in text
    assert scrubbed["request"]["url"] == "http://cp/api/get-conversation/[phone]"
    assert scrubbed["request"]["query_string"] == (
        "phone=[redacted]&token=[redacted]&page=[redacted]"
    )
    # Only the headers that say how the request was made: not who, nor from where.
    assert scrubbed["request"]["headers"] == {"Accept": "*/*"}
    assert "env" not in scrubbed["request"] and "10.1.2.3" not in text
    assert "data" not in scrubbed["request"] and "cookies" not in scrubbed["request"]
    assert scrubbed["extra"]["worker_token"] == "[redacted]"
    # What explains the error stays.
    assert scrubbed["exception"]["values"][0]["type"] == "RuntimeError"
    assert scrubbed["timestamp"] == event["timestamp"]
    assert scrubbed["tags"] == event["tags"]


def test_without_a_dsn_nothing_is_started() -> None:
    reports = start_error_reports(None, service="control-plane", release="0")
    assert not reports.enabled
    assert not sentry_sdk.is_initialized()
    reports.close()


def test_phones_codes_and_inputs_are_taken_out_in_their_other_shapes() -> None:
    """Written into a URL, with dashes and brackets, in a query's values, or quoted by a
    validation error."""
    event = {
        "exception": {
            "values": [
                {
                    "type": "ValidationError",
                    "value": "1 validation error\n  Input should be a valid integer"
                    " [type=int_parsing, input_value={'token': '482913'}, input_type=dict]",
                },
                {"type": "RuntimeError", "value": "no answer from +998 (99) 123-45-67"},
                {"type": "RuntimeError", "value": "no answer from +1-555-123-4567"},
                {"type": "RuntimeError", "value": "SMS to +919812345678. Then to 919812345679."},
                {"type": "RuntimeError", "value": "took 1234567.89 s"},
            ]
        },
        "breadcrumbs": {
            "values": [
                {
                    "type": "http",
                    "category": "httplib",
                    "data": {
                        "url": "https://sms.example/send?to=%2B998991234567&msg=Your+code+is+482913"
                    },
                },
                {"message": "GET /api/v1/search/jobs?q=%2B998991234567"},
            ]
        },
        "timestamp": "2026-12-07T03:14:32.123456Z",
        "message": "took 2026-12-07 03:14:32 for job 42",
    }
    scrubbed = scrub_event(event)
    text = json.dumps(scrubbed)
    for secret in ("482913", "998991234567", "99) 123-45-67", "555-123-4567"):
        assert secret not in text
    values = [value["value"] for value in scrubbed["exception"]["values"]]
    assert values[1:] == [
        "no answer from [phone]",
        "no answer from [phone]",
        "SMS to [phone]. Then to [phone].",  # at a sentence's end too
        "took 1234567.89 s",  # a decimal is no phone
    ]
    assert "input_value=[redacted], input_type=dict" in values[0]
    crumbs = scrubbed["breadcrumbs"]["values"]
    assert crumbs[0]["data"]["url"] == "https://sms.example/send?to=[redacted]&msg=[redacted]"
    assert crumbs[1]["message"] == "GET /api/v1/search/jobs?q=[redacted]"
    # Dates and times are no phone numbers.
    assert scrubbed["message"] == "took 2026-12-07 03:14:32 for job 42"
