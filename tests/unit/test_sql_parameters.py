"""SQL is built only with parameters: every query a service or shared module runs is a constant
(string literals, or f-strings of module-level UPPER_CASE constants), never text made from values.
Values travel as asyncpg's $n parameters. (ruff's S608 also runs in `make lint`.)"""

from __future__ import annotations

import ast
import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from katflow_intake.adapters.postgres_intake import new_request
from katflow_intake.domain.consultation import ConsultationRequestIn, RequestIds
from katflow_notifications.adapters import postgres_settle as deliveries
from katflow_notifications.adapters.postgres_feed import PostgresFeed
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.ports import Outbound, Receipt
from katflow_shared import audit
from katflow_shared.contracts import NotificationSent
from katflow_shared.db import composed, renumbered
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.settings import ServiceSettings
from katflow_shared.unit_of_work import UnitOfWork
from katflow_shared.wakeup import Announcer, resolved

REPO = Path(__file__).resolve().parents[2]
SOURCES = [REPO / "shared" / "src", *sorted((REPO / "services").glob("*/src"))]
QUERY_METHODS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "cursor"}
RELAY = Announcer(outbox.CHANNEL)  # no relay of this process attached: its wake-up is the NOTIFY
# Not queries built from values: migration scripts shipped with the package, and statements composed
# of constant parts (db.composed; test_composed_statements_carry_values_only_as_parameters below).
EXEMPT = {("katflow_shared/db.py", "file.read_text"), ("katflow_shared/db.py", "statement")}


def _constant(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.Attribute):  # module.CONSTANT
        return node.attr.isupper()
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and _constant(v.value))
            for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _constant(node.left) and _constant(node.right)
    return False


def offending_queries(path: Path, relative: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in QUERY_METHODS or not node.args:
            continue
        query = node.args[0]
        if _constant(query) or (relative, ast.unparse(query).split("(")[0]) in EXEMPT:
            continue
        found.append(f"{relative}:{node.lineno}: {ast.unparse(query)[:80]}")
    return found


def test_every_query_is_constant_text_with_parameters() -> None:
    problems = []
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            problems += offending_queries(path, path.relative_to(root).as_posix())
    assert problems == [], "SQL built from values (use $n parameters):\n" + "\n".join(problems)


def test_the_check_catches_sql_made_from_values(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text(
        "async def f(conn, name, where):\n"
        "    await conn.fetch(f\"SELECT * FROM t WHERE name = '{name}'\")\n"
        "    await conn.execute('DELETE FROM t WHERE ' + where)\n"
        "    await conn.fetchval(f'SELECT {COLUMNS} FROM t WHERE id = $1', 3)\n"
        "    await conn.execute(QUERY, name)\n"
    )
    assert [p.split(":")[1] for p in offending_queries(sample, "bad.py")] == ["2", "3"]


def test_composed_statements_number_their_parameters_without_gaps_or_clashes() -> None:
    assert renumbered("VALUES ($1, $2, $12::jsonb)", 4) == "VALUES ($5, $6, $16::jsonb)"
    delivery_id, now = uuid.uuid4(), datetime.now(UTC)
    audited = audit.entry("notifications", None, "message.sent", resource={"delivery_id": delivery_id})
    emitter = Emitter(ServiceSettings(environment="test"), RELAY)
    sent = NotificationSent(
        delivery_id=delivery_id,
        course_id=None,
        channel="email",
        template_id="t",
        template_version=1,
        sent_at=now,
    )
    announced = emitter.envelope(sent, None)
    feed = asyncio.run(PostgresFeed().send(Outbound(delivery_id, "staff-1", Rendered("subject", "text"))))
    email = deliveries.Accepted(delivery_id, Receipt("<id@katflow>"), now, audited, announced)
    for receipt in (Receipt("<id@katflow>"), feed):  # an email's settle, and one with the feed item
        for event in (None, announced):  # an integrator webhook's has no event
            accepted = deliveries.Accepted(delivery_id, receipt, now, audited, event)
            for batch in ([accepted], [accepted, email]):  # alone, and sharing the statement
                # what the Settler's unit of work sends (settling._settle), NOTIFY included
                uow = UnitOfWork(cast(Any, None), now, None, emitter, Announcer("timers"), False)
                uow.write(*deliveries.settled(batch))
                for a in batch:
                    uow.audit(a.audited)
                    if a.announced is not None:
                        uow.emit(a.announced)
                writes = uow.pending()
                notify, _ = resolved(writes.wakes, in_process=False)
                statement, args = composed(writes.parts, [*writes.results, *notify], uow._head)
                assert {int(n) for n in re.findall(r"\$(\d+)", statement)} == set(range(1, len(args) + 1))


def test_composed_statements_carry_values_only_as_parameters() -> None:
    """What intake composes from a web form holds none of the form's text: only $n placeholders."""
    hostile = "Robert'); DROP TABLE patients;--"
    body = ConsultationRequestIn.model_validate(
        {
            "patient": {
                "given_name": hostile,
                "family_name": hostile,
                "date_of_birth": "1980-01-01",
                "email": "ana@example.org",
                "time_zone": "America/Chicago",
            },
            "consent": {"email": True},
            "indication": hostile,
        }
    )
    ids = RequestIds()
    event = (str(uuid.uuid4()), "topic", "key", '[["ce_id", "x"]]', hostile.encode())
    parts = [*new_request(body, ids, datetime.now(UTC), (hostile, hostile)), outbox.rows([event, event])]
    statement, args = composed(parts, resolved([RELAY.wake()], in_process=False)[0])
    assert "DROP" not in statement and "ana@" not in statement and str(ids.patient_id) not in statement
    assert hostile in args and hostile.encode() in args
    assert {int(n) for n in re.findall(r"\$(\d+)", statement)} == set(range(1, len(args) + 1))
