#!/usr/bin/env bash
# Runs the whole product on embedded defaults: gateway sandbox, web, Celery worker and beat.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

WEB_PORT="${WEB_PORT:-8000}"
SANDBOX_PORT="${SANDBOX_PORT:-8765}"
export GMO_PG_BASE_URL="${GMO_PG_BASE_URL:-http://127.0.0.1:${SANDBOX_PORT}}"
export STRIPE_API_BASE="${STRIPE_API_BASE:-http://127.0.0.1:${SANDBOX_PORT}}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:${WEB_PORT}}"
export ADMIN_BASE_URL="${ADMIN_BASE_URL:-http://127.0.0.1:${WEB_PORT}}"
PY=.venv/bin/python
mkdir -p var/log var/celery-broker/processed

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

port_free() {
  ! $PY -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', int(sys.argv[1]))))" "$1"
}
for port in "$WEB_PORT" "$SANDBOX_PORT"; do
  if ! port_free "$port"; then
    echo "port $port is already in use (another demo?). Stop it, or choose ports: WEB_PORT=8001 SANDBOX_PORT=8766 make demo" >&2
    exit 1
  fi
done

wait_for() {  # url, name
  for _ in $(seq 1 100); do
    if $PY -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "$2 did not start; see var/log/" >&2
  exit 1
}

$PY manage.py run_gateway_sandbox --port "$SANDBOX_PORT" --state-file var/sandbox-state.json \
  > var/log/sandbox.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:${SANDBOX_PORT}/_sandbox/clock" "gateway sandbox"

LOG_LEVEL=WARNING $PY manage.py seed_demo --sandbox-url "http://127.0.0.1:${SANDBOX_PORT}"

.venv/bin/celery -A payments_admin worker --pool=solo --loglevel=INFO > var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A payments_admin beat --loglevel=INFO --schedule var/celerybeat-schedule \
  > var/log/beat.log 2>&1 &
pids+=($!)
$PY manage.py runserver "127.0.0.1:${WEB_PORT}" --noreload > var/log/web.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:${WEB_PORT}/admin/login/" "web server"

cat <<MSG

  Payments admin is running.
    Admin:            http://127.0.0.1:${WEB_PORT}/admin/
    Logins:           admin / admin (superuser)   operator / operator   staff / staff
    Gateway sandbox:  http://127.0.0.1:${SANDBOX_PORT}/token  (test card page)
    API docs:         http://127.0.0.1:${WEB_PORT}/api/docs/  (OpenAPI schema: /api/schema/)
    Logs:             var/log/{web,worker,beat,sandbox}.log
  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
echo "a demo process exited; stopping the rest (see var/log/)" >&2
