"""Telegram texts of alerts: HTML-escaped, one message per group, under Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from smsfleet.alerts.models import Alert, AlertRule, NotificationKind, Severity
from smsfleet.core.clock import human_time

__all__ = [
    "MESSAGE_LIMIT",
    "alert_text",
    "message_text",
    "resolved_summary",
    "sent_again",
    "telegram_length",
]

MESSAGE_LIMIT = 4096
_ICON = {Severity.info: "🔵", Severity.warning: "🟠", Severity.critical: "🔴"}
_RESOLVED_BECAUSE = "; resolved: "


def resolved_summary(raised_on: str, why: str, *, limit: int) -> str:
    """A resolved alert's summary: what raised it, then why it resolved (kept whole)."""
    tail = f"{_RESOLVED_BECAUSE}{why}" if why else ""
    return raised_on[: max(0, limit - len(tail))] + tail[:limit]


def telegram_length(text: str) -> int:
    """`text`'s length as Telegram counts it, in UTF-16 code units: an emoji is two."""
    return len(text.encode("utf-16-le")) // 2


SENT_AGAIN_NOTE = (
    "<i>Sent again: the control plane stopped while sending this, so it may have arrived"
    " already.</i>"
)


def sent_again(text: str) -> str:
    """`text` sent again after a try whose end the control plane never saw (it stopped
    while Telegram may have been taking it), saying so: a repeat reads as one. Without
    the note when it would not fit."""
    noted = f"{text}\n{SENT_AGAIN_NOTE}"
    return noted if telegram_length(noted) <= MESSAGE_LIMIT else text


def _title(alert: Alert) -> str:
    return alert.rule.value.replace("_", " ")


def _lasted(alert: Alert) -> str:
    end = alert.resolved_at or alert.last_seen_at
    seconds = int((end - alert.started_at).total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _raised_by(alert: Alert) -> str:
    """Who raised a person's alert, as people's messages say who sent them."""
    actor = alert.details.get("actor") if alert.rule is AlertRule.manual else None
    return f", raised by {escape(actor)}" if isinstance(actor, str) else ""


def alert_text(
    kind: NotificationKind,
    alerts: Sequence[Alert],
    *,
    eased_from: Severity | None = None,
    news: str | None = None,
) -> str:
    """One message for alerts of one rule, severity and country that changed together;
    `eased_from`: the severity they fell from; `news`: what is new about them, told again
    at the same severity ("paused again")."""
    first = alerts[0]
    where = f" · {escape(first.country)}" if first.country else ""
    count = f" ({len(alerts)})" if len(alerts) > 1 else ""
    if kind == NotificationKind.resolved:
        head = f"✅ <b>RESOLVED</b> · {escape(_title(first))}{where}{count}"
    else:
        note = " (still firing)" if kind == NotificationKind.repeat else ""
        if eased_from is not None:
            note = f" (was {eased_from.value})"
        elif news is not None:
            note = f" ({escape(news)})"
        head = (
            f"{_ICON[first.severity]} <b>{first.severity.value.upper()}</b> · "
            f"{escape(_title(first))}{where}{count}{note}"
        )
    lines = [head]
    for alert in alerts:
        if kind == NotificationKind.resolved:
            why = alert.summary.partition(_RESOLVED_BECAUSE)[2]
            said = f": {escape(why)}" if why else ""
            line = f"<b>{escape(alert.subject)}</b>: cleared after {_lasted(alert)}{said}"
        else:
            since = human_time(alert.started_at, now=alert.last_seen_at)
            line = f"{escape(alert.summary)}\nsince {since}{_raised_by(alert)}"
        lines.append(line if len(alerts) == 1 else f"• {line}")
    return _fit(lines)


def message_text(text: str, *, actor: str) -> str:
    head = f"📣 <b>Message</b> from {escape(actor)}"
    body = escape(text)
    while telegram_length(f"{head}\n{body}") > MESSAGE_LIMIT:  # escaping can lengthen it
        text = text[: len(text) * 9 // 10]
        body = escape(text) + "…"
    return f"{head}\n{body}"


def _fit(lines: list[str]) -> str:
    """Join lines, leaving out whole trailing lines (never cutting a tag) past the limit."""
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        more = f"… and {len(lines) - index} more"
        length = telegram_length(line)
        if index > 0 and size + length + 1 > MESSAGE_LIMIT - telegram_length(more) - 1:
            kept.append(more)
            break
        kept.append(line)
        size += length + 1
    return "\n".join(kept)
