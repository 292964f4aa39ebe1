#!/bin/bash
# KAFKA_FOO_BAR=x → foo.bar=x (as apache/kafka does), format once, run the broker in the foreground.
set -euo pipefail
CONF=/opt/kafka/config/server.properties
: "${KAFKA_LOG_DIRS:=/var/lib/kafka/data}"
{
  for var in $(compgen -e); do
    case $var in
      KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_OPTS) ;;
      KAFKA_*)
        key=${var#KAFKA_} && key=${key,,} && key=${key//___/-} && key=${key//__/@} && key=${key//_/.}
        printf '%s=%s\n' "${key//@/_}" "${!var}" ;;
    esac
  done
} >"$CONF"
mkdir -p "$KAFKA_LOG_DIRS" /opt/kafka/logs
CP="/opt/kafka/libs/*"
JVM=(-Djava.awt.headless=true -Dkafka.logs.dir=/opt/kafka/logs
     -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties)
if [[ ! -f $KAFKA_LOG_DIRS/meta.properties ]]; then
  : "${CLUSTER_ID:?CLUSTER_ID is required to format the log directory}"
  java "${JVM[@]}" -cp "$CP" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$CONF" --ignore-formatted
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC "${JVM[@]}" ${KAFKA_OPTS:-} \
  -cp "$CP" kafka.Kafka "$CONF"
