#!/usr/bin/env bash
# Local, Docker-free Keycloak for katflow: the `clinic` realm (deploy/local/keycloak/clinic-realm.json)
# with its demo staff, in dev mode on 127.0.0.1. Called by infra.sh; usable on its own.
# Usage: deploy/local/keycloak.sh {up|start|down|status|env}   (start: launch without waiting; up: and wait)
# State lives in ${KATFLOW_RUN_DIR:-<repo>/.run}/keycloak. Development only: an H2 database, http,
# an admin (admin/admin) and passwords written in the realm file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUN=${KATFLOW_RUN_DIR:-$REPO/.run}
KC_VERSION=26.5.6
KC_PORT=${KATFLOW_KEYCLOAK_PORT:-18080}
KC_MANAGEMENT_PORT=${KATFLOW_KEYCLOAK_MANAGEMENT_PORT:-19000}
REALM=clinic
REALM_FILE=$HERE/keycloak/clinic-realm.json
READY_SECONDS=${KATFLOW_KEYCLOAK_READY_SECONDS:-300}

mkdir -p "$RUN" && RUN=$(cd "$RUN" && pwd)
KC=$RUN/keycloak
DIST=$KC/keycloak-$KC_VERSION
KC_PID=$KC/keycloak.pid KC_LOG=$KC/logs/keycloak.log
BASE_URL=http://127.0.0.1:$KC_PORT
ISSUER=$BASE_URL/realms/$REALM

log() { echo "[keycloak] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
tail_log() { [[ -f $KC_LOG ]] && { log "--- tail of $KC_LOG"; tail -n 60 "$KC_LOG" >&2; }; return 0; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) =~ ^[^ZX]$ ]]; }
http_ok() { [[ $(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null) == 200 ]]; }

kc_pid() {   # prints Keycloak's pid if it runs (and really is our Keycloak)
  local pid; pid=$(cat "$KC_PID" 2>/dev/null) || return 1
  pid_alive "$pid" && [[ $(readlink "/proc/$pid/cwd") == "$DIST" ]] \
    && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq 'kc\.sh|QuarkusEntryPoint' && echo "$pid"
}

kc_install() {   # the distribution zip from Maven Central (cached in ~/.m2), unpacked once
  [[ -x $DIST/bin/kc.sh ]] && return 0
  command -v java >/dev/null || die "java (OpenJDK 17 or later) is required"
  command -v mvn >/dev/null || die "mvn (Maven) is required"
  command -v curl >/dev/null || die "curl is required"
  log "fetching Keycloak $KC_VERSION (Maven Central, ~160 MB the first time)"
  rm -rf "$KC/download" "$DIST.tmp" && mkdir -p "$KC/download" "$DIST.tmp"
  local out   # mvn -q still prints colour codes: show its output only on failure
  out=$(mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" \
    -DoutputDirectory="$KC/download" 2>&1) || { echo "$out" >&2; die "mvn failed"; }
  local zip=$KC/download/keycloak-quarkus-dist-$KC_VERSION.zip
  if command -v unzip >/dev/null; then unzip -q "$zip" -d "$DIST.tmp"
  else python3 -m zipfile -e "$zip" "$DIST.tmp" && chmod +x "$DIST.tmp"/keycloak-*/bin/*.sh; fi
  mv "$DIST.tmp/keycloak-$KC_VERSION" "$DIST" && rm -rf "$DIST.tmp" "$KC/download"
}

kc_realm() {   # the realm file to import; a changed file means a fresh database (import skips a known realm)
  local sum; sum=$(sha256sum "$REALM_FILE" | cut -d' ' -f1)
  mkdir -p "$DIST/data/import"
  if [[ $(cat "$KC/realm.sha256" 2>/dev/null) != "$sum" ]]; then
    [[ -d $DIST/data/h2 ]] && log "realm file changed: starting from an empty database"
    rm -rf "$DIST/data/h2"
    cp "$REALM_FILE" "$DIST/data/import/$REALM-realm.json"
    echo "$sum" >"$KC/realm.sha256"
  fi
}

kc_launch() {   # install if need be and start it, without waiting for it
  if kc_pid >/dev/null; then log "Keycloak already running (pid $(kc_pid))"; else
    kc_install
    kc_realm
    port_open "$KC_PORT" && die "port $KC_PORT is taken by another process (KATFLOW_KEYCLOAK_PORT)"
    mkdir -p "$KC/logs"
    log "starting Keycloak on $BASE_URL (realm $REALM)"
    # setsid: own session, so Keycloak outlives this shell. $! is kc.sh's pid: it forwards SIGTERM to
    # its java (and execs java itself after a re-augmentation); kc_pid knows it by its cwd.
    # 8>&- 9>&- : don't inherit this script's lock nor infra.sh's.
    (cd "$DIST" && exec setsid nohup env \
      KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
      JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m" \
      bin/kc.sh start-dev --http-host=127.0.0.1 --http-port="$KC_PORT" \
      --http-management-port="$KC_MANAGEMENT_PORT" --hostname="$BASE_URL" --import-realm \
      >>"$KC_LOG" 2>&1 </dev/null 8>&- 9>&-) &
    echo $! >"$KC_PID"
  fi
}

kc_start() {
  kc_launch
  local deadline=$((SECONDS + READY_SECONDS))
  until http_ok "$ISSUER/.well-known/openid-configuration"; do
    kc_pid >/dev/null || { tail_log; die "Keycloak exited during start-up"; }
    ((SECONDS < deadline)) || { tail_log; die "Keycloak not ready after $READY_SECONDS s"; }
    sleep 1
  done
  log "Keycloak ready: $ISSUER"
}

kc_stop() {   # SIGTERM, up to 30 s, then SIGKILL
  local pid i; pid=$(kc_pid) || { log "Keycloak not running"; rm -f "$KC_PID"; return 0; }
  log "stopping Keycloak (pid $pid)"; kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do pid_alive "$pid" || break; sleep 0.5; done
  if pid_alive "$pid"; then log "Keycloak still up after 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$KC_PID"
}

lock() { mkdir -p "$KC" && exec 8>"$KC/keycloak.lock" && flock 8; }   # one up/start/down at a time

cmd=${1:-}
case $cmd in
  up) lock; kc_start ;;
  start) lock; kc_launch ;;
  down) lock; kc_stop ;;
  status)
    if pid=$(kc_pid) && http_ok "$ISSUER/.well-known/openid-configuration"; then
      echo "keycloak: up (pid $pid, $ISSUER)"
    else echo "keycloak: down"; exit 1; fi ;;
  env)
    echo "export KATFLOW_KEYCLOAK_URL=$BASE_URL"
    echo "export KATFLOW_KEYCLOAK_ISSUER=$ISSUER"
    echo "export KATFLOW_KEYCLOAK_JWKS_URL=$ISSUER/protocol/openid-connect/certs"
    echo "export KATFLOW_KEYCLOAK_API_CLIENT=katflow"
    echo "export KATFLOW_KEYCLOAK_CONSOLE_CLIENT=katflow-console"
    echo "export KATFLOW_KEYCLOAK_CONSOLE_SECRET=katflow-console-dev-secret"
    echo "export KATFLOW_KEYCLOAK_CLI_CLIENT=katflow-cli" ;;
  *) sed -n '2,5p' "$0" >&2; exit 2 ;;
esac
