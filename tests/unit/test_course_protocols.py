"""Protocols are versioned files checked at start-up: a bad one stops the service, naming file and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from katflow_intake.bootstrap import build_app as build_intake
from katflow_intake.settings import IntakeSettings
from katflow_notifications.bootstrap import build_app as build_notifications
from katflow_notifications.settings import NotificationsSettings
from katflow_scheduling.bootstrap import build_app as build_scheduling
from katflow_scheduling.settings import SchedulingSettings
from katflow_shared.contracts.common import MonitoringCheck, Route
from katflow_shared.treatment_protocols import ProtocolConfigError, default_directory, load_protocols


def test_every_route_has_a_valid_protocol_with_the_clinic_rule_numbers() -> None:
    book = load_protocols()
    assert sorted(book.protocols) == ["im@1", "intranasal@1", "iv@1", "oral@1"]
    iv, nasal = book.current(Route.IV), book.current(Route.INTRANASAL)
    assert iv.total_doses == 6 and iv.integration.window_hours == 72
    assert nasal.dosing.monitoring_minutes >= 120 and nasal.dosing.rems_form_due_days == 7
    bp = {c.check: c.offset_minutes for c in nasal.dosing.checks}
    assert bp[MonitoringCheck.BLOOD_PRESSURE] == 40 and bp[MonitoringCheck.DISCHARGE] == 120
    assert [p.doses for p in nasal.cadence] == [8, 4] and nasal.phase_for(9).min_days_between == 7
    assert book.current(Route.ORAL).integration.window_hours == 7 * 24
    assert book.screening.id == "screening@1"


def test_the_highest_version_is_current_and_older_versions_stay_readable(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    data = json.loads((folder / "iv@1.json").read_text())
    (folder / "iv@2.json").write_text(json.dumps({**data, "version": 2, "no_show_grace_minutes": 30}))
    book = load_protocols(folder)
    assert book.current(Route.IV).id == "iv@2" and book.get("iv@1").no_show_grace_minutes == 15


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "protocols"
    shutil.copytree(default_directory(), folder)
    return folder


def _edit(folder: Path, name: str, change: dict[str, Any]) -> None:
    path = folder / name
    data = json.loads(path.read_text())
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = value
    path.write_text(json.dumps(data))


BAD = [
    (
        "intranasal@1.json",
        {
            "dosing.monitoring_minutes": 90,
            "dosing.checks": [{"check": "blood_pressure", "offset_minutes": 40}],
        },
        "monitoring_minutes must be at least 120",
    ),
    ("intranasal@1.json", {"preparation.rems_enrollment_required": False}, "patient enrolment required"),
    (
        "iv@1.json",
        {"dosing.checks": [{"check": "discharge", "offset_minutes": 300}]},
        "after monitoring ends",
    ),
    (
        "iv@1.json",
        {"cadence": [{"name": "x", "doses": 6, "min_days_between": 0, "max_days_between": 2}]},
        "cadence.0.min_days_between",
    ),
    ("iv@1.json", {"integration.window_hours": 0}, "integration.window_hours"),
    ("iv@1.json", {"version": 2}, "file name must be iv@2.json"),
    ("oral@1.json", {"route": "smoked"}, "oral@1.json: route"),
    ("screening@1.json", {"review": ["hypersensitivity"]}, "either blocking or for review"),
]


@pytest.mark.parametrize(("name", "change", "message"), BAD, ids=[b[2] for b in BAD])
def test_a_bad_protocol_file_is_refused_naming_file_and_field(
    tmp_path: Path, name: str, change: dict[str, Any], message: str
) -> None:
    folder = _copy(tmp_path)
    _edit(folder, name, change)
    with pytest.raises(ProtocolConfigError, match=message) as error:
        load_protocols(folder)
    assert name.split("@")[0] in str(error.value)


def test_unreadable_or_missing_files_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "im@1.json").write_text("{ not json")
    with pytest.raises(ProtocolConfigError, match="im@1.json: cannot read"):
        load_protocols(folder)
    (folder / "im@1.json").unlink()
    with pytest.raises(ProtocolConfigError, match="no protocol for route"):
        load_protocols(folder)
    with pytest.raises(ProtocolConfigError, match="does not exist"):
        load_protocols(tmp_path / "nowhere")


def test_services_refuse_to_start_with_a_bad_protocol_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder, "intranasal@1.json", {"dosing.max_pre_dose_bp.systolic": 999})
    with pytest.raises(ProtocolConfigError, match="intranasal@1.json"):
        build_intake(IntakeSettings(protocols_dir=folder))
    with pytest.raises(ProtocolConfigError, match="intranasal@1.json"):
        build_scheduling(SchedulingSettings(protocols_dir=folder))
    with pytest.raises(ProtocolConfigError, match="intranasal@1.json"):
        build_notifications(NotificationsSettings(protocols_dir=folder))


def test_every_staff_action_is_documented_in_openapi() -> None:
    for app in (build_intake(IntakeSettings()), build_scheduling(SchedulingSettings())):
        paths = app.openapi()["paths"]
        staff = {p: ops for p, ops in paths.items() if p.startswith(("/v1/courses", "/v1/appointments"))}
        assert staff
        for path, ops in staff.items():
            for method, op in ops.items():
                assert op.get("summary"), f"{method} {path}"
                if method == "post":
                    assert op.get("description"), f"{method} {path}"
    scheduling = build_scheduling(SchedulingSettings()).openapi()["paths"]
    for action in ("check-in", "administration", "session", "complete", "cancel", "reschedule", "no-show"):
        assert f"/v1/appointments/{{appointment_id}}/{action}" in scheduling
