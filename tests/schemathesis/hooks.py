"""Schemathesis hooks: leave out cases that the document cannot describe as invalid but
the engine rightly refuses, each for the reason given (the tool generates each parameter
on its own, so it cannot know a rule that joins two of them, or one about today)."""

from datetime import date, datetime, timedelta, timezone

import schemathesis

SHANGHAI = timezone(timedelta(hours=8))


# A bound Python cannot read although the engine may (year 0), and one nobody can.
UNKNOWN = object()
INVALID = object()


def instant(raw):
    """A date (midnight Asia/Shanghai) or an RFC 3339 instant, as the engine reads them;
    None if absent."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        return INVALID
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        parsed = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else INVALID
    except (ValueError, OverflowError):
        looks_like_a_date = len(raw) >= 10 and raw[4] == "-" and raw[:4].isdigit()
        return UNKNOWN if looks_like_a_date else INVALID


def runs_forwards(start, end):
    """Whether a range may be sent: absent bounds, or both known and in order. A bound
    Python cannot read is left out rather than guessed."""
    if start is UNKNOWN or end is UNKNOWN:
        return False
    if start is INVALID or end is INVALID:
        return True  # refused for the bad bound, as a negative case expects
    return start is None or end is None or start < end


def now():
    return datetime.now(timezone.utc)


@schemathesis.hook
def filter_case(ctx, case):
    """Applied in every phase (the coverage phase included, which `filter_query` is not)."""
    query = case.query
    if not query:
        return True
    path = ctx.operation.path
    # A range must run forwards: `received_from` before `received_to` (docs/http-api.md,
    # GET /api/orders), refused 400 otherwise.
    if path in ("/api/orders", "/api/orders.csv"):
        # `next` is opaque: only the `next` of a page is a cursor (refused 400 otherwise),
        # and nothing generated at random is one.
        if query.get("next") not in (None, ""):
            return False
        start, end = instant(query.get("received_from")), instant(query.get("received_to"))
        if not runs_forwards(start, end):
            return False
    # A period must run forwards: `from` before `to` (default: now), refused 400 otherwise.
    if path == "/api/kpis":
        start, end = instant(query.get("from")), instant(query.get("to"))
        if not runs_forwards(start, end or now()):
            return False
    # A month that has not begun has no league table, refused 400.
    if path == "/api/ranking":
        period = query.get("period")
        if isinstance(period, str) and len(period) == 7 and period[4] == "-":
            try:
                first = datetime(int(period[:4]), int(period[5:]), 1, tzinfo=SHANGHAI)
            except ValueError:
                return True
            if first > now():
                return False
    return True
