"""The second factor: the patient's date of birth, as on file from intake. A forwarded link alone
shows nothing personal; a wrong answer counts against the link, and the link locks (is revoked)
after ``MAX_FAILED_ATTEMPTS`` of them — the patient then uses the link in a newer message."""

from __future__ import annotations

from datetime import date

MAX_FAILED_ATTEMPTS = 5


def parse_date(text: str) -> date | None:
    """An HTML date input's value (YYYY-MM-DD); anything else is no answer."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def matches(answer: str, on_file: date | None) -> bool:
    """No date of birth on file never matches: the page then cannot be opened from a link."""
    given = parse_date(answer)
    return on_file is not None and given is not None and given == on_file


def locks_after(failed_attempts: int) -> bool:
    return failed_attempts >= MAX_FAILED_ATTEMPTS
