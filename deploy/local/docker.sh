#!/usr/bin/env bash
# A Docker engine and katflow's images on a machine that has no image registry (or no Docker).
# Usage: deploy/local/docker.sh {up|images|env|status|down}
#   up      engine + compose v2 + the offline base and infrastructure images (idempotent; seconds
#           on the second run): docker.io and debootstrap from apt when missing; dockerd started
#           when no engine answers; katflow/debian:bookworm (debootstrap + docker import, once),
#           katflow/python:3.11 (the stand-in for python:3.11-slim) and the stand-ins for
#           postgres:16, apache/kafka, axllent/mailpit and quay.io/keycloak/keycloak
#           (deploy/local/docker/*, used through deploy/compose/offline.yml); the compose v2 CLI
#           plugin built from its Go module.
#   images  katflow/<service>:dev from services/Dockerfile (--build-arg SERVICE=<service>) and
#           katflow/tools:dev, on python:3.11-slim when a registry answers, else on
#           katflow/python:3.11 (PYTHON_IMAGE).
#   env     prints the exports for a shell: eval "$(deploy/local/docker.sh env)"
#   status  which engine, client, compose and images
#   down    stops the dockerd this script started (never an engine it did not start)
#
# The engine: $DOCKER_HOST when set; else the system socket /var/run/docker.sock when an engine
# answers there; else a dockerd this script starts on its own socket,
# unix:///run/katflow-docker/docker.sock, so that no other program (testcontainers in another
# test run, say) finds an engine at the default address because of us.
# The client: Debian's /usr/bin/docker (20.10, built-in BuildKit with DOCKER_BUILDKIT=1) when
# present: a newer `docker` without the buildx plugin cannot build with BuildKit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
if ((EUID == 0)); then CACHE=${KATFLOW_DOCKER_CACHE:-/var/cache/katflow}; else CACHE=${KATFLOW_DOCKER_CACHE:-$HOME/.cache/katflow}; fi
OWN_RUN=/run/katflow-docker
OWN_HOST=unix://$OWN_RUN/docker.sock
COMPOSE_VERSION=${KATFLOW_COMPOSE_VERSION:-v5.6.0}
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
DEBIAN_IMAGE=katflow/debian:bookworm
LOCAL_PYTHON_IMAGE=katflow/python:3.11
PUBLIC_PYTHON_IMAGE=python:3.11-slim
KEYCLOAK_VERSION=$(sed -n 's/^KC_VERSION=//p' "$HERE/keycloak.sh")   # the one `make up` runs
export DOCKER_BUILDKIT=1

log() { echo "[docker] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

docker_cli() { if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else command -v docker || echo docker; fi; }
DOCKER=$(docker_cli)

# alive unless gone or a zombie
pid_alive() { [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) =~ ^[^ZX]$ ]]; }

answers() { DOCKER_HOST=$1 timeout 10 "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

engine_host() {   # the engine to use, without starting one
  if [[ -n ${DOCKER_HOST:-} ]]; then echo "$DOCKER_HOST"
  elif [[ -S /var/run/docker.sock ]] && answers unix:///var/run/docker.sock; then echo unix:///var/run/docker.sock
  else echo "$OWN_HOST"; fi
}

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null || [[ -n ${DOCKER_HOST:-} ]] || missing+=(docker.io)
  [[ -x /usr/bin/docker ]] || command -v docker >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "missing: ${missing[*]} (apt-get install them as root)"
  log "installing ${missing[*]} (apt)"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  DOCKER=$(docker_cli)
}

ensure_engine() {
  export DOCKER_HOST; DOCKER_HOST=$(engine_host)
  answers "$DOCKER_HOST" && return 0
  [[ $DOCKER_HOST == "$OWN_HOST" ]] || die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST"
  ((EUID == 0)) || die "no Docker engine answers; start one (dockerd runs as root)"
  mkdir -p "$OWN_RUN" "$CACHE"
  # A killed dockerd leaves its pid file and its containerd's (and, where PID 1 reaps no orphans,
  # zombies under those pids): dockerd then refuses to start or waits for a containerd that is gone.
  local file pid
  for file in "$OWN_RUN/dockerd.pid" "$OWN_RUN/exec/containerd/containerd.pid"; do
    pid=$(cat "$file" 2>/dev/null) || continue
    pid_alive "$pid" || rm -f "$file"
  done
  log "starting dockerd on $OWN_HOST (log: $CACHE/dockerd.log)"
  # its own exec root and pid file: a system dockerd, if one is ever started, is not disturbed
  setsid nohup dockerd -H "$OWN_HOST" --exec-root "$OWN_RUN/exec" --pidfile "$OWN_RUN/dockerd.pid" \
    >>"$CACHE/dockerd.log" 2>&1 </dev/null 9>&- &   # 9>&- : not our lock
  local i
  for i in $(seq 60); do answers "$DOCKER_HOST" && return 0; sleep 1; done
  tail -n 30 "$CACHE/dockerd.log" >&2; die "dockerd did not answer in 60 s"
}

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

ensure_debian_base() {
  have_image "$DEBIAN_IMAGE" && return 0
  command -v debootstrap >/dev/null || die "debootstrap is required"
  ((EUID == 0)) || die "debootstrap runs as root"
  local root=$CACHE/rootfs-bookworm
  if [[ ! -x $root/usr/bin/apt-get || ! -f $root/.complete ]]; then
    log "debootstrap bookworm into $root (about a minute)"
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
    touch "$root/.complete"
  fi
  log "importing $root as $DEBIAN_IMAGE"
  tar -C "$root" --exclude=./.complete -c . | "$DOCKER" import -c 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
}

build() {   # build TAG CONTEXT [docker build args...]; quiet unless it fails
  local tag=$1 ctx=$2 out; shift 2
  out=$("$DOCKER" build -q -t "$tag" "$@" "$ctx" 2>&1) || { echo "$out" >&2; die "building $tag failed"; }
}

ensure_python_base() {
  local ctx=$CACHE/build/python
  mkdir -p "$ctx"
  cp "$HERE/docker/python.Dockerfile" "$ctx/Dockerfile"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  log "building $LOCAL_PYTHON_IMAGE"
  build "$LOCAL_PYTHON_IMAGE" "$ctx" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE"
}

kafka_jars() {   # the broker jars `make up` runs (Maven, cached in ~/.m2)
  local dest=$1 sum; sum=$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)
  [[ -d $dest && $(cat "$dest.sha256" 2>/dev/null) == "$sum" ]] && return 0
  command -v mvn >/dev/null || die "mvn (Maven) is required for the Kafka jars"
  log "fetching Kafka jars (Maven)"
  rm -rf "$dest"
  mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dest" >"$CACHE/mvn.log" 2>&1 || { tail -n 20 "$CACHE/mvn.log" >&2; die "mvn failed"; }
  echo "$sum" >"$dest.sha256"
}

keycloak_dist() {   # the Keycloak distribution `make up` runs (Maven, cached in ~/.m2), unpacked
  local dest=$1 version=$2
  [[ -x $dest/bin/kc.sh && $(cat "$dest.version" 2>/dev/null) == "$version" ]] && return 0
  command -v mvn >/dev/null || die "mvn (Maven) is required for Keycloak"
  log "fetching Keycloak $version (Maven)"
  rm -rf "$dest" "$dest.zip.d" && mkdir -p "$dest.zip.d"
  mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$version:zip" \
    -DoutputDirectory="$dest.zip.d" >"$CACHE/mvn.log" 2>&1 || { tail -n 20 "$CACHE/mvn.log" >&2; die "mvn failed"; }
  python3 -m zipfile -e "$dest.zip.d/keycloak-quarkus-dist-$version.zip" "$dest.zip.d"
  mv "$dest.zip.d/keycloak-$version" "$dest" && rm -rf "$dest.zip.d"
  chmod +x "$dest"/bin/*.sh
  echo "$version" >"$dest.version"
}

ensure_infra_images() {
  log "building katflow/offline-{postgres,kafka,mailpit,keycloak}"
  build katflow/offline-postgres:15 "$HERE/docker/postgres" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE"
  local ctx=$CACHE/build/kafka
  mkdir -p "$ctx"
  kafka_jars "$ctx/lib"
  cp "$HERE/docker/kafka/"{Dockerfile,entrypoint.sh,api_versions.py,log4j2.properties} "$ctx/"
  build katflow/offline-kafka:4.1.1 "$ctx" --build-arg PYTHON_IMAGE="$LOCAL_PYTHON_IMAGE"
  build katflow/offline-mailpit:1 "$HERE/docker/mailpit" --build-arg PYTHON_IMAGE="$LOCAL_PYTHON_IMAGE"
  ctx=$CACHE/build/keycloak
  mkdir -p "$ctx"
  keycloak_dist "$ctx/keycloak" "$KEYCLOAK_VERSION"
  cp "$HERE/docker/keycloak/Dockerfile" "$ctx/"
  build "katflow/offline-keycloak:$KEYCLOAK_VERSION" "$ctx" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE"
}

compose_works() { "$DOCKER" compose version >/dev/null 2>&1; }

ensure_compose() {
  compose_works && return 0
  local bin=$CACHE/compose-$COMPOSE_VERSION/docker-compose
  if [[ ! -x $bin ]]; then
    command -v go >/dev/null || die "no compose v2 plugin and no Go to build one"
    log "building the compose $COMPOSE_VERSION CLI plugin from its Go module (a few minutes, once)"
    local src=$CACHE/compose-$COMPOSE_VERSION/src
    mkdir -p "$src"
    (
      cd "$src"
      [[ -f go.mod ]] || go mod init katflow.local/compose >/dev/null 2>&1
      go get "github.com/docker/compose/v5/cmd@$COMPOSE_VERSION"
      go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
        -o "$bin.tmp" github.com/docker/compose/v5/cmd
    ) >"$CACHE/compose-build.log" 2>&1 || { tail -n 20 "$CACHE/compose-build.log" >&2; die "compose build failed"; }
    mv "$bin.tmp" "$bin"
  fi
  mkdir -p "$PLUGIN_DIR" 2>/dev/null && ln -sf "$bin" "$PLUGIN_DIR/docker-compose" 2>/dev/null \
    || { mkdir -p "$HOME/.docker/cli-plugins" && ln -sf "$bin" "$HOME/.docker/cli-plugins/docker-compose"; }
  compose_works || die "the compose plugin at $bin does not run"
}

python_base_for_services() {   # the public base when it is here or a registry gives it; else ours
  if have_image "$PUBLIC_PYTHON_IMAGE" || timeout 60 "$DOCKER" pull -q "$PUBLIC_PYTHON_IMAGE" >/dev/null 2>&1; then
    echo "$PUBLIC_PYTHON_IMAGE"
  else
    have_image "$LOCAL_PYTHON_IMAGE" || die "no registry answers and $LOCAL_PYTHON_IMAGE is missing: run $0 up"
    echo "$LOCAL_PYTHON_IMAGE"
  fi
}

build_service_images() {
  local base; base=${PYTHON_IMAGE:-$(python_base_for_services)}
  local name file
  for file in "$REPO"/services/*/pyproject.toml; do   # one Dockerfile, the service as its argument
    name=$(basename "$(dirname "$file")")
    log "building katflow/$name:dev (on $base)"
    build "katflow/$name:dev" "$REPO" -f "$REPO/services/Dockerfile" --build-arg SERVICE="$name" \
      --build-arg PYTHON_IMAGE="$base"
  done
  log "building katflow/tools:dev (on $base)"
  build katflow/tools:dev "$REPO" -f "$REPO/deploy/compose/Dockerfile.tools" --build-arg PYTHON_IMAGE="$base"
}

lock() {   # one up or images at a time (developers and test runs share the engine and the cache)
  mkdir -p "$CACHE" && exec 9>"$CACHE/docker.lock" && flock 9
}

case ${1:-} in
  up)
    lock
    ensure_packages
    ensure_engine
    # The compose plugin (a Go build: CPU) alongside the images (debootstrap and apt: mostly network)
    ensure_compose 9>&- &
    compose_job=$!
    ensure_debian_base
    ensure_python_base
    ensure_infra_images
    wait "$compose_job" || die "no compose v2 plugin"
    log "ready: DOCKER_HOST=$DOCKER_HOST, client $DOCKER, $("$DOCKER" compose version --short 2>/dev/null | sed 's/^/compose /')"
    ;;
  images)
    lock
    export DOCKER_HOST; DOCKER_HOST=$(engine_host)
    answers "$DOCKER_HOST" || die "no Docker engine answers at $DOCKER_HOST: run $0 up"
    build_service_images
    ;;
  env)
    echo "export DOCKER_HOST=$(engine_host) DOCKER_BUILDKIT=1 KATFLOW_DOCKER=$DOCKER"
    ;;
  status)
    export DOCKER_HOST; DOCKER_HOST=$(engine_host)
    echo "engine: $DOCKER_HOST ($(answers "$DOCKER_HOST" && echo answers || echo 'not answering'))"
    echo "client: $DOCKER; compose: $("$DOCKER" compose version --short 2>/dev/null || echo missing)"
    if answers "$DOCKER_HOST"; then
      "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^katflow/' || true
    fi
    ;;
  down)
    pid=$(cat "$OWN_RUN/dockerd.pid" 2>/dev/null) || { log "no dockerd of ours is running"; exit 0; }
    if pid_alive "$pid" && kill "$pid" 2>/dev/null; then
      log "stopping dockerd ($pid)"
      for _ in $(seq 30); do pid_alive "$pid" || break; sleep 1; done
    fi
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
