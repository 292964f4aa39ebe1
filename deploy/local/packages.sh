#!/usr/bin/env bash
# System packages the tests and the integrator quickstart use (Debian): kcat, and chromium for the
# patient page's browser tests (Playwright drives /usr/bin/chromium; never `playwright install`).
# PostgreSQL and Kafka are installed by infra.sh; Python packages by `uv sync`.
set -euo pipefail
need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "[packages] installing ${need[*]}" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
