"""``katflow``: the operator's command line (topics, local stack, SMTP sink, dead letters, demo)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from katflow_shared.messaging.kafka import ensure_topics
from katflow_shared.settings import ServiceSettings

from . import dlq, identity
from .databases import admin_dsn
from .stack import SERVICES, ServiceProcess, StackConfig, create_databases

RUN_DIR = Path(os.environ.get("KATFLOW_RUN_DIR", ".run")).resolve()


def _settings() -> ServiceSettings:
    return ServiceSettings(service_name="katflow-cli")


# KATFLOW_STACK_SMS=fake-twilio: ``stack up`` starts a fake Twilio (katflow_notifications.devtools.
# fake_twilio, every text reported delivered) and notifications texts through Twilio's API to it.
STACK_SMS = "KATFLOW_STACK_SMS"
FAKE_TWILIO_PORT = 8090
# The fake's development account (fake_twilio.DEV_ACCOUNT_SID / DEV_AUTH_TOKEN; not imported: the
# katflow-tools package does not depend on katflow-notifications).
FAKE_TWILIO_ACCOUNT = ("AC" + "0" * 31 + "1", "dev-twilio-auth-token-not-secret")


def _sms_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The notifications settings that point SMS at the fake Twilio, when asked for."""
    if environ.get(STACK_SMS) != "fake-twilio":
        return {}
    return {
        "KATFLOW_SMS_PROVIDER": "twilio",
        "KATFLOW_TWILIO_ACCOUNT_SID": FAKE_TWILIO_ACCOUNT[0],
        "KATFLOW_TWILIO_AUTH_TOKEN": FAKE_TWILIO_ACCOUNT[1],
        "KATFLOW_TWILIO_API_BASE_URL": f"http://127.0.0.1:{FAKE_TWILIO_PORT}",
    }


def _stack_config() -> StackConfig:
    """The local stack, with the operator's KATFLOW_* settings passed on to its services (less the
    addresses and ports the stack gives each). With a local Keycloak named (``infra.sh env``) and no
    KATFLOW_AUTH_JWKS_URL of the operator's, the services accept its tokens."""
    operator = {k: v for k, v in os.environ.items() if k.startswith("KATFLOW_")}
    idp = {} if "KATFLOW_AUTH_JWKS_URL" in operator else identity.auth_env(os.environ)
    return StackConfig(
        run_dir=RUN_DIR,
        kafka_bootstrap=os.environ.get("KATFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        pg_admin_dsn=admin_dsn(),
        topic_prefix=os.environ.get("KATFLOW_TOPIC_PREFIX", ""),
        extra_env={**idp, **_sms_env(os.environ), **operator},
    )


def cmd_topics(_: argparse.Namespace) -> int:
    created = asyncio.run(ensure_topics(_settings()))
    print(f"topics ready ({len(created)} created)")
    return 0


def cmd_stack_up(_: argparse.Namespace) -> int:
    cfg = _stack_config()
    pids = RUN_DIR / "pids"
    pids.mkdir(parents=True, exist_ok=True)
    asyncio.run(create_databases(cfg))
    asyncio.run(ensure_topics(_settings()))
    if not _running(pids / "smtp-sink.pid"):
        log = (RUN_DIR / "logs").joinpath("smtp-sink.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        import subprocess

        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "katflow_tools.cli",
                "smtp-sink",
                "--port",
                str(cfg.smtp_port),
                "--dir",
                str(RUN_DIR / "mail"),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (pids / "smtp-sink.pid").write_text(str(proc.pid))
    if _sms_env(os.environ) and not _running(pids / "fake-twilio.pid"):
        _start_fake_twilio(pids / "fake-twilio.pid")
    started = []
    for name in SERVICES:
        if _running(pids / f"{name}.pid"):
            continue
        service = ServiceProcess(cfg, name).start()
        (pids / f"{name}.pid").write_text(str(service.pid))
        started.append(service)
    for service in started:
        service.wait_ready()
    for name in SERVICES:
        what = f"OpenAPI: {cfg.url(name)}/docs" if name != "console" else "staff console: demo logins below"
        print(f"{name:14} {cfg.url(name)}  ({what})")
    print(f"{'smtp sink':14} smtp://127.0.0.1:{cfg.smtp_port}  (messages in {RUN_DIR / 'mail'})")
    if _sms_env(os.environ):
        texts = RUN_DIR / "logs" / "fake-twilio.log"
        print(f"{'sms':14} http://127.0.0.1:{FAKE_TWILIO_PORT}  (fake Twilio: texts in {texts})")
    realm = identity.load_realm() if identity.REALM_FILE.exists() else None
    for line in identity.login_help(os.environ, realm):
        print(line)
    return 0


def _start_fake_twilio(pid_file: Path) -> None:
    import subprocess

    log = RUN_DIR / "logs" / "fake-twilio.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "katflow_notifications.devtools.fake_twilio"]
    proc = subprocess.Popen(
        [*command, "--port", str(FAKE_TWILIO_PORT), "--log-texts"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pid_file.write_text(str(proc.pid))


def cmd_stack_down(_: argparse.Namespace) -> int:
    pids = RUN_DIR / "pids"
    for pid_file in sorted(pids.glob("*.pid")) if pids.exists() else []:
        pid = int(pid_file.read_text())
        if _running(pid_file):
            os.kill(pid, signal.SIGTERM)
            for _attempt in range(150):
                if not _running(pid_file):
                    break
                time.sleep(0.2)
        pid_file.unlink()
        print(f"stopped {pid_file.stem}")
    return 0


def _running(pid_file: Path) -> bool:
    """Whether the process in ``pid_file`` runs: a killed one its parent has not reaped yet (a
    zombie, state Z in /proc/<pid>/stat) passes ``kill -0`` but is gone all the same."""
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # exited meanwhile; or no /proc: kill -0 must do
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # the state follows "(comm)"


def cmd_smtp_sink(args: argparse.Namespace) -> int:
    from .smtp_sink import SmtpSink

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sink = SmtpSink(port=args.port, folder=Path(args.dir)).start()
    print(f"SMTP sink on 127.0.0.1:{sink.port}, writing to {args.dir}", flush=True)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        sink.stop()
    return 0


def cmd_dlq_list(args: argparse.Namespace) -> int:
    letters = asyncio.run(dlq.read_all(_settings(), args.service))
    for dl in letters:
        h = dl.headers
        print(
            f"{dl.partition}:{dl.offset}  {h.get('ce_type', '?'):45} {h.get('dlq_error_type')}: "
            f"{h.get('dlq_error_message', '')[:80]}"
        )
    print(f"{len(letters)} dead letter(s) for {args.service}")
    return 0


def _find(args: argparse.Namespace) -> dlq.DeadLetter:
    partition, offset = (int(x) for x in args.position.split(":"))
    for dl in asyncio.run(dlq.read_all(_settings(), args.service)):
        if (dl.partition, dl.offset) == (partition, offset):
            return dl
    raise SystemExit(f"no dead letter at {args.position} for {args.service}")


def cmd_dlq_show(args: argparse.Namespace) -> int:
    dl = _find(args)
    print(
        json.dumps(
            {
                "headers": dl.headers,
                "key": (dl.key or b"").decode(errors="replace"),
                "body": (dl.value or b"").decode(errors="replace"),
            },
            indent=2,
        )
    )
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    dl = _find(args)
    body = Path(args.body).read_bytes() if args.body else None
    topic = asyncio.run(dlq.replay(_settings(), dl, body))
    print(f"replayed {args.position} to {topic}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return asyncio.run(run_demo(_stack_config()))


def cmd_token(args: argparse.Namespace) -> int:
    """Print an access token of a user of the local Keycloak (scripts; development only)."""
    issuer = os.environ.get("KATFLOW_KEYCLOAK_ISSUER")
    if not issuer:
        raise SystemExit('no identity provider named: eval "$(deploy/local/infra.sh env)" first')
    demo = identity.demo_users(identity.load_realm()) if identity.REALM_FILE.exists() else []
    password = args.password or next((u.password for u in demo if u.username == args.username), None)
    if password is None:
        raise SystemExit(f"{args.username} is not a demo user of the realm file: give --password")
    print(identity.password_grant(issuer, args.username, password, args.client))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from .docs_gen import run

    return run(check_only=args.check, publishing=args.publish)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="katflow", description=__doc__)
    sub = parser.add_subparsers(required=True)
    sub.add_parser("topics", help="create katflow's topics if missing").set_defaults(fn=cmd_topics)
    stack = sub.add_parser("stack", help="the three services as local processes").add_subparsers(
        required=True
    )
    stack.add_parser("up").set_defaults(fn=cmd_stack_up)
    stack.add_parser("down").set_defaults(fn=cmd_stack_down)
    sink = sub.add_parser("smtp-sink", help="run a loopback SMTP server that keeps messages")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--dir", default=str(RUN_DIR / "mail"))
    sink.set_defaults(fn=cmd_smtp_sink)
    dead = sub.add_parser("dlq", help="dead letters").add_subparsers(required=True)
    for name, fn in (("list", cmd_dlq_list), ("show", cmd_dlq_show), ("replay", cmd_dlq_replay)):
        p = dead.add_parser(name)
        p.add_argument("--service", choices=SERVICES, required=True)
        if name != "list":
            p.add_argument("position", help="PARTITION:OFFSET as printed by 'katflow dlq list'")
        if name == "replay":
            p.add_argument("--body", help="file with a corrected JSON body to publish instead")
        p.set_defaults(fn=fn)
    sub.add_parser("demo", help="submit a request and print its timeline").set_defaults(fn=cmd_demo)
    token = sub.add_parser("token", help="print a local Keycloak user's access token (development)")
    token.add_argument("username", help="e.g. clin-1, ther-1, coord-1, admin-1")
    token.add_argument("--password", help="default: the demo user's password in the realm file")
    token.add_argument("--client", default="katflow-cli", help="a client with direct access grants")
    token.set_defaults(fn=cmd_token)
    docs = sub.add_parser("docs", help="regenerate the contract docs: schemas, AsyncAPI, events, settings")
    mode = docs.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 on drift or a breaking change"
    )
    mode.add_argument(
        "--publish",
        action="store_true",
        help="record docs/schemas as published (docs/schemas/published.json), the baseline --check holds "
        "the models to; refused on drift or a breaking change",
    )
    docs.set_defaults(fn=cmd_docs)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
