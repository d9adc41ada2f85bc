"""The SDK a fleet program imports: `run_program(SendSMS, SubmitSMS)` and a few types.

A program defines `SendSMS(phone, proxy, attempt=...)` with `SendOtp()` and `SubmitSMS(...)`
with `SumitOtp(trigger_id, code)`; the harness leases each SMS from the control plane, calls
them, waits for the code at the gateway and reports the outcome (spooled on disk while the
control plane is unreachable). Depends on httpx and the standard library only.
"""

from smsfleet.worker._control import (
    COUNTRY_CAP_HEADER,
    ControlPlane,
    ControlPlaneRejected,
    ControlPlaneUnavailable,
    Report,
    SendGrant,
    Stop,
    Wait,
)
from smsfleet.worker._gateway import Delivery, Gateway
from smsfleet.worker._harness import Worker, mask_phone, run_program
from smsfleet.worker._program import Attempt, SendFailed, Sent
from smsfleet.worker._settings import SettingsError, WorkerSettings

__all__ = [
    "COUNTRY_CAP_HEADER",
    "Attempt",
    "ControlPlane",
    "ControlPlaneRejected",
    "ControlPlaneUnavailable",
    "Delivery",
    "Gateway",
    "Report",
    "SendFailed",
    "SendGrant",
    "Sent",
    "SettingsError",
    "Stop",
    "Wait",
    "Worker",
    "WorkerSettings",
    "mask_phone",
    "run_program",
]
