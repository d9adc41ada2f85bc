"""Errors the simulator answers with; each carries its HTTP status and a stable code."""

from __future__ import annotations

from typing import Any


class SimulatorError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def not_found(code: str, message: str, **details: Any) -> SimulatorError:
    return SimulatorError(404, code, message, details=details or None)


def conflict(code: str, message: str, **details: Any) -> SimulatorError:
    return SimulatorError(409, code, message, details=details or None)


def invalid(code: str, message: str, **details: Any) -> SimulatorError:
    return SimulatorError(400, code, message, details=details or None)
