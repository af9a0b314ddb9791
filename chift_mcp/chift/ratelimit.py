"""Chift's rate-limit answers: a short-term limit (Chift already retried) or a daily one, and when it resets.

Chift retries a connector's short-term limit itself, up to 5 times with 1, 2, 4, 8 and 16 s between
attempts, before it answers 429 ``ERROR_RATE_LIMIT``; a daily limit is not retried and "a clear error
specifying the type of rate limit, and the remaining time before it resets" comes back at once
(docs.chift.eu developer-guides/rate-limits). The wording and the format of that time are not
documented, so :func:`reset_in` reads the forms a message is likely to use, the time left first:
after "in", "within" or "after", one group of amounts of hours, minutes and seconds (``in 3 hours 20
minutes``, ``in 3 h 20 min``, ``in 12000 seconds``) or a clock duration (``in 03:20:00``); else an ISO
8601 instant; else a time of day after "at" (``at 00:00:00 UTC``: its next occurrence, read as UTC).
An amount anywhere else ("Daily quota (24h)") is not the time left.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["CHIFT_RETRY_WINDOW", "is_daily_limit", "reset_in", "reset_note"]

# Seconds Chift spends retrying a short-term rate limit before it answers 429 (1+2+4+8+16).
CHIFT_RETRY_WINDOW = 31.0
RATE_LIMIT = "ERROR_RATE_LIMIT"

_DAILY = re.compile(r"\b(daily|per[ -]day|a day|/ ?day|24 ?h(ours)?)\b", re.I)
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_ONE_AMOUNT = r"\d+(?:\.\d+)?\s*(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])"
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])", re.I)
# The time left comes after "in", "within" or "after": one group of amounts ("3 hours 20 minutes",
# "1 h, 5 min") or a clock duration ("03:20:00"). An amount elsewhere ("Daily quota (24h)") is not it.
_LEAD = r"\b(?:in|within|after)\s+"
_LEFT = re.compile(_LEAD + rf"({_ONE_AMOUNT}(?:\s*(?:,|and)?\s*{_ONE_AMOUNT})*)", re.I)
_CLOCK_LEFT = re.compile(_LEAD + r"(\d{1,2}):(\d{2}):(\d{2})\b", re.I)
# A time of day after "at" ("resets at 00:00:00 UTC"): its next occurrence, UTC.
_AT = re.compile(r"\bat\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])", re.I)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}
DAY = 86400.0


def is_daily_limit(status: int, code: str | None, message: str) -> bool:
    """Whether a rate-limit answer is a daily limit (by its message: Chift names the limit's type)."""
    return (status == 429 or code == RATE_LIMIT) and bool(_DAILY.search(message))


def reset_in(message: str, now: float) -> float | None:
    """Seconds until the limit in ``message`` resets (``now``: epoch seconds), or None if it says not."""
    tail = message[message.lower().find("reset") :] if "reset" in message.lower() else message
    instant = _INSTANT.search(tail)
    rest = _INSTANT.sub(" ", tail)
    # The time left first (what the docs say the message gives), then an instant, then a time of day.
    left = _LEFT.search(rest)
    if left:
        return sum(float(n) * _UNIT[unit.lower()] for n, unit in _AMOUNT.findall(left.group(1)))
    clock = _CLOCK_LEFT.search(rest)
    if clock:
        h, m, s = (int(g) for g in clock.groups())
        return float(h * 3600 + m * 60 + s)
    if instant:
        text = instant.group(0).replace(" ", "T").replace("Z", "+00:00")
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    at = _AT.search(rest)
    if at:
        h, m, s = int(at.group(1)), int(at.group(2)), int(at.group(3) or 0)
        if h > 23 or m > 59 or s > 59:
            return None
        since_midnight = now % DAY  # epoch seconds have no leap seconds: UTC days are 86400 s
        return (h * 3600 + m * 60 + s - since_midnight) % DAY
    return None


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def reset_note(message: str, now: float | None) -> str:
    """ "It resets in about 3 h 20 min (at 04:00 UTC)." or what to read when the message does not say."""
    if now is None:
        now = datetime.now(UTC).timestamp()
    seconds = reset_in(message, now)
    if seconds is None:
        return "Chift's message says when it resets."
    at = datetime.fromtimestamp(now + seconds, UTC)
    return f"it resets in about {_duration(seconds)} (at {at:%Y-%m-%d %H:%M} UTC)."
