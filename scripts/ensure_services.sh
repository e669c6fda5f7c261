#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer before the suite
# runs: start the ones that are installed but stopped, and fail loudly otherwise — the
# suite must never go green by skipping the real backends.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 30); do up "$port" && return 0; sleep 1; done
  echo "error: $name did not come up on 127.0.0.1:$port" >&2
  return 1
}

if ! up 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_for 5432 PostgreSQL
  else
    echo "error: PostgreSQL is not running on 127.0.0.1:5432 and is not installed here" >&2
    exit 1
  fi
fi

if ! up 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir "$( [ -w /var/lib/redis ] && echo /var/lib/redis || echo /tmp )" \
      --logfile "$( [ -w /var/log/redis ] && echo /var/log/redis/ci.log || echo /tmp/redis-ci.log )"
    wait_for 6379 Redis
  else
    echo "error: Redis is not running on 127.0.0.1:6379 and is not installed here" >&2
    exit 1
  fi
fi
echo "PostgreSQL and Redis are up"
