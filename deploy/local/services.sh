#!/usr/bin/env bash
# Start or stop every real service the test suite needs (Kafka, PostgreSQL; Chromium on 'up').
#
# Usage: deploy/local/services.sh up | down [--purge] | status
#
# 'up' ends by printing the connection strings as the variables the tests read, e.g.
#   NEWSFLOW_TEST_KAFKA_BOOTSTRAP=127.0.0.1:19092
#   NEWSFLOW_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:15432/newsflow_test
# Environment variables are those of kafka.sh and postgres.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case "${1:-}" in
  up)
    kafka=$("$HERE/kafka.sh" up | tail -n1)
    pg=$("$HERE/postgres.sh" up | tail -n1)
    "$HERE/chromium.sh" >/dev/null
    echo "NEWSFLOW_TEST_KAFKA_BOOTSTRAP=$kafka"
    echo "NEWSFLOW_TEST_POSTGRES_URL=$pg"
    ;;
  down)
    rc=0
    "$HERE/kafka.sh" down "${2:-}" || rc=1
    "$HERE/postgres.sh" down "${2:-}" || rc=1
    exit $rc
    ;;
  status)
    rc=0
    "$HERE/kafka.sh" status || rc=1
    "$HERE/postgres.sh" status || rc=1
    exit $rc
    ;;
  *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac
