#!/usr/bin/env bash
# Local, Docker-free infrastructure for katflow: one Kafka broker (KRaft), one PostgreSQL and the
# identity provider (Keycloak, realm `clinic`: deploy/local/keycloak.sh; KATFLOW_LOCAL_KEYCLOAK=0 skips it).
# Usage: deploy/local/infra.sh {up|down|status|env|kafka-start|kafka-stop|kafka-kill|
#                              pg-start|pg-stop|pg-restart}
# State lives in ${KATFLOW_RUN_DIR:-<repo>/.run}; everything binds to 127.0.0.1 only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUN=${KATFLOW_RUN_DIR:-$REPO/.run}
KAFKA_PORT=${KATFLOW_KAFKA_PORT:-19092}
CONTROLLER_PORT=${KATFLOW_KAFKA_CONTROLLER_PORT:-19093}
PG_PORT=${KATFLOW_PG_PORT:-55432}
PG_SUPERUSER=katflow PG_PASSWORD=katflow
KEYCLOAK=$HERE/keycloak.sh
with_keycloak() { [[ ${KATFLOW_LOCAL_KEYCLOAK:-1} != 0 ]]; }

mkdir -p "$RUN" && RUN=$(cd "$RUN" && pwd)   # absolute, even if given relative
K=$RUN/kafka PG=$RUN/pg
K_PID=$K/kafka.pid K_PROPS=$K/server.properties K_LOG=$K/logs/server.log
PGDATA=$PG/data PG_LOG=$PG/logs/postgres.log

log() { echo "[infra] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
tail_log() { local f; for f in "$@"; do [[ -f $f ]] && { log "--- tail of $f"; tail -n 60 "$f" >&2; }; done; return 0; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid counts as alive unless gone or a zombie (PID 1 here may not reap orphans).
pid_alive() { [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) =~ ^[^ZX]$ ]]; }

# ------------------------------------------------------------------ Kafka
kafka_pid() {   # prints the broker's pid if it is running (and really is our broker)
  local pid; pid=$(cat "$K_PID" 2>/dev/null) || return 1
  pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka.Kafka' && echo "$pid"
}

kafka_install() {   # broker jars, fetched again only when pom.xml changes
  command -v java >/dev/null || die "java (OpenJDK 17) is required"
  command -v mvn >/dev/null || die "mvn (Maven) is required"
  local sum; sum=$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)
  if [[ ! -d $K/lib || $(cat "$K/lib.sha256" 2>/dev/null) != "$sum" ]]; then
    log "fetching Kafka jars into $K/lib (Maven; first time takes a while)"
    rm -rf "$K/lib.tmp" && mkdir -p "$K"
    local out   # mvn -q still prints colour codes: show its output only on failure
    out=$(mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$K/lib.tmp" 2>&1) || { echo "$out" >&2; die "mvn failed"; }
    rm -rf "${K:?}/lib" && mv "$K/lib.tmp" "$K/lib" && echo "$sum" >"$K/lib.sha256"
  fi
}

kafka_configure() {   # render server.properties; format storage once only
  mkdir -p "$K/data" "$K/logs"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$K/data|g" "$HERE/kafka/server.properties.template" >"$K_PROPS"
  if [[ -f $K/data/meta.properties ]]; then return 0; fi   # formatted: never reformat
  local id; id=$(java -cp "$K/lib/*" kafka.tools.StorageTool random-uuid)
  log "formatting Kafka storage (cluster id $id)"
  java -cp "$K/lib/*" kafka.tools.StorageTool format --standalone -t "$id" -c "$K_PROPS" \
    >>"$K/logs/format.log" 2>&1 || { tail_log "$K/logs/format.log"; die "Kafka format failed"; }
}

# Python with aiokafka for a real metadata request (repo venv first), else none.
kafka_python() {
  local py
  for py in "$REPO/.venv/bin/python" python3; do
    command -v "$py" >/dev/null && "$py" -c 'import aiokafka' 2>/dev/null && { echo "$py"; return 0; }
  done
  return 1
}
KAFKA_PROBE='
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient
async def main():
    admin = AIOKafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()
asyncio.run(main())'

kafka_start() {
  if kafka_pid >/dev/null; then log "Kafka already running (pid $(kafka_pid))"; else
    kafka_install
    kafka_configure
    port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process"
    local log_offset; log_offset=$(stat -c %s "$K_LOG" 2>/dev/null || echo 0)
    log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
    local jvm=(-Xmx768m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties"
      -Dkafka.logs.dir="$K/logs")
    # setsid: own session, so the broker outlives this shell and the caller's Ctrl-C; the
    # subshell execs into java, so $! is the broker's pid. 9>&- : don't inherit the lock.
    (cd "$K" && exec setsid nohup java "${jvm[@]}" -cp "$K/lib/*" kafka.Kafka "$K_PROPS" \
      >>"$K/logs/kafka.out" 2>&1 </dev/null 9>&-) &
    echo $! >"$K_PID"
  fi
  # Readiness: a metadata request answered (aiokafka), else port open + "Kafka Server started".
  local py deadline=$((SECONDS + 120)); py=$(kafka_python) || py=""
  [[ -n $py ]] || log "no aiokafka found: falling back to port + log-line readiness check"
  until
    if [[ -n $py ]]; then timeout 20 "$py" -c "$KAFKA_PROBE" "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
    else port_open "$KAFKA_PORT" \
      && grep -q 'Kafka Server started' < <(tail -c +"$((${log_offset:-0} + 1))" "$K_LOG" 2>/dev/null); fi
  do
    kafka_pid >/dev/null || { tail_log "$K_LOG" "$K/logs/kafka.out"; die "Kafka exited during start-up"; }
    ((SECONDS < deadline)) || { tail_log "$K_LOG" "$K/logs/kafka.out"; die "Kafka not ready after 120 s"; }
    sleep 1
  done
  log "Kafka ready on 127.0.0.1:$KAFKA_PORT"
}

kafka_stop() {   # SIGTERM, up to 30 s for a clean shutdown, then SIGKILL
  local pid i; pid=$(kafka_pid) || { log "Kafka not running"; rm -f "$K_PID"; return 0; }
  log "stopping Kafka (pid $pid)"; kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do pid_alive "$pid" || break; sleep 0.5; done
  if pid_alive "$pid"; then log "Kafka still up after 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$K_PID"
}

kafka_kill() {   # crash simulation for fault tests
  local pid; pid=$(kafka_pid) || { log "Kafka not running"; return 0; }
  log "killing Kafka (kill -9 $pid)"; kill -KILL "$pid"
  while pid_alive "$pid"; do sleep 0.2; done
  rm -f "$K_PID"
}

# ------------------------------------------------------------------ PostgreSQL
newest_pg_bin() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }
PG_BIN=${KATFLOW_PG_BIN:-$(newest_pg_bin)}

# initdb/pg_ctl refuse to run as root: as root, use a dedicated system user.
if ((EUID == 0)); then
  if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=katflowpg; fi
else PG_USER=$(id -un); fi
as_pg() { if ((EUID == 0)); then (cd / && runuser -u "$PG_USER" -- "$@"); else "$@"; fi; }
pg_running() { [[ -f $PGDATA/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }

pg_install() {
  if [[ ! -x $PG_BIN/initdb ]]; then
    ((EUID == 0)) || die "PostgreSQL server not found: apt-get install postgresql (as root)"
    log "installing PostgreSQL (apt-get)"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    PG_BIN=$(newest_pg_bin)
    if ((EUID == 0)) && id postgres >/dev/null 2>&1; then PG_USER=postgres; fi   # created by the package
  fi
  if ((EUID == 0)) && ! id "$PG_USER" >/dev/null 2>&1; then
    log "creating system user $PG_USER"; useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$PG_USER"
  fi
}

pg_configure() {
  mkdir -p "$PG/logs"
  if ((EUID == 0)); then
    # The PG user needs to traverse every parent of $PG (e.g. a repo under /root): top-down.
    local d="" part parts
    IFS=/ read -ra parts <<<"${RUN#/}"
    for part in "${parts[@]}"; do
      d=$d/$part
      as_pg test -x "$d" || { log "chmod o+x $d (so $PG_USER can reach $PG)"; chmod o+x "$d"; }
    done
    [[ $(stat -c %U "$PG") == "$PG_USER" && $(stat -c %U "$PG/logs") == "$PG_USER" ]] \
      || chown -R "$PG_USER:" "$PG"
  fi
  if [[ ! -f $PGDATA/PG_VERSION ]]; then
    log "initialising PostgreSQL data dir $PGDATA"
    rm -rf "$PGDATA"
    (umask 077 && echo "$PG_PASSWORD" >"$PG/.pwfile")
    ((EUID == 0)) && chown "$PG_USER:" "$PG/.pwfile"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --pwfile="$PG/.pwfile" -E UTF8 \
      --no-locale --auth-local=trust --auth-host=scram-sha-256 >"$PG/logs/initdb.log" 2>&1 \
      || { rm -f "$PG/.pwfile"; tail_log "$PG/logs/initdb.log"; die "initdb failed"; }
    rm -f "$PG/.pwfile"
    echo "include 'katflow.conf'" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
  fi
  # Rendered on every start so port changes apply.
  sed -e "s|@PG_PORT@|$PG_PORT|g" -e "s|@SOCKET_DIR@|$PG|g" "$HERE/pg/postgresql.conf.template" \
    | as_pg tee "$PGDATA/katflow.conf" >/dev/null
}

pg_psql() {   # psql as the katflow superuser over TCP (password auth)
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres "$@"
}

pg_start() {
  pg_install
  if pg_running; then log "PostgreSQL already running"; else
    pg_configure
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 60 >/dev/null 9>&- \
      || { tail_log "$PG_LOG"; die "PostgreSQL failed to start"; }
  fi
  local deadline=$((SECONDS + 60))
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && pg_psql -c 'select 1' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { tail_log "$PG_LOG"; die "PostgreSQL not ready after 60 s"; }
    sleep 1
  done
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT"
}

pg_stop() {
  if pg_running; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >/dev/null || { tail_log "$PG_LOG"; die "pg_ctl stop failed"; }
  else log "PostgreSQL not running"; fi
}

pg_check_btree_gist() {   # contrib must be present; checked in a rolled-back transaction
  printf 'begin;\ncreate extension btree_gist;\nrollback;\n' | pg_psql >/dev/null 2>&1 \
    || die "extension btree_gist unavailable (install the PostgreSQL contrib package)"
}

# ------------------------------------------------------------------ commands
lock() { exec 9>"$RUN/infra.lock"; flock 9; }   # one mutating command at a time

cmd=${1:-}
case $cmd in
  up) lock   # Keycloak first, without waiting: it starts slowest, alongside PostgreSQL and Kafka
    if with_keycloak; then "$KEYCLOAK" start; fi
    pg_start; pg_check_btree_gist; kafka_start
    if with_keycloak; then "$KEYCLOAK" up; fi ;;
  down) lock; "$KEYCLOAK" down; kafka_stop; pg_stop ;;
  kafka-start) lock; kafka_start ;;
  kafka-stop) lock; kafka_stop ;;
  kafka-kill) lock; kafka_kill ;;
  pg-start) lock; pg_start ;;
  pg-stop) lock; pg_stop ;;
  pg-restart) lock; pg_stop; pg_start ;;
  status)
    rc=0
    if pid=$(kafka_pid) && port_open "$KAFKA_PORT"; then echo "kafka: up (pid $pid, 127.0.0.1:$KAFKA_PORT)"
    else echo "kafka: down"; rc=1; fi
    if pg_running && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then echo "postgres: up (127.0.0.1:$PG_PORT)"
    else echo "postgres: down"; rc=1; fi
    if with_keycloak; then "$KEYCLOAK" status || rc=1; fi
    exit "$rc" ;;
  env)
    echo "export KATFLOW_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
    echo "export KATFLOW_PG_ADMIN_DSN=postgresql://$PG_SUPERUSER:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
    if with_keycloak; then "$KEYCLOAK" env; fi ;;
  *) sed -n '2,5p' "$0" >&2; exit 2 ;;
esac
