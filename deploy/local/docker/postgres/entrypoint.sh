#!/bin/bash
# The official postgres image's entrypoint, the part katflow uses (see Dockerfile).
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
USER_=${POSTGRES_USER:-postgres} DB=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
[[ ${1:-} == postgres ]] && shift   # `postgres -c name=value ...`, as with the official image
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql && chmod 700 "$PGDATA"
if [[ ! -s $PGDATA/PG_VERSION ]]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  pw=$(mktemp) && printf '%s\n' "$POSTGRES_PASSWORD" >"$pw" && chown postgres "$pw"
  as_pg "$BIN/initdb" -D "$PGDATA" -U "$USER_" --pwfile="$pw" -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pw"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # Init scripts against a server on the socket only: the healthcheck (TCP) fails until the real one.
  as_pg "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql_() { "$BIN/psql" -X -v ON_ERROR_STOP=1 -h /run/postgresql -U "$USER_" "$@"; }
  [[ $DB == postgres ]] || psql_ -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sql) echo "init: $f" && psql_ -d "$DB" -q -f "$f" ;;
      *.sh) echo "init: $f" && . "$f" ;;
    esac
  done
  as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$BIN/postgres" -D "$PGDATA" "$@"
