"""One staff identity (issue 27): the notifications directory, scheduling's clinicians, the test
keys and the id list in docs/security.md are one id space; routing by role still reaches someone."""

from __future__ import annotations

import re
from pathlib import Path

from katflow_notifications.domain.staff import load_staff
from katflow_notifications.settings import DEFAULT_STAFF
from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from tests.support.stack import SUBJECTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
NOT_BOOKED = {"coord-1", "admin-1"}  # staff scheduling never books


def test_the_directory_and_the_clinic_share_one_staff_id_space() -> None:
    directory = load_staff(DEFAULT_STAFF)
    booked = {c.id for c in load_clinic(DEFAULT_CLINIC).clinicians}
    assert {m.id for m in directory.staff} == booked | NOT_BOOKED
    assert directory.unrouted(directory.routing) == []  # every rule still reaches a member
    assert set(SUBJECTS.values()) <= {m.id for m in directory.staff}
    section = DOC.read_text().split("## One staff identity", 1)[1].split("The tests' API keys", 1)[0]
    assert set(re.findall(r"^\| `([\w-]+)` \|", section, re.MULTILINE)) == booked | NOT_BOOKED
