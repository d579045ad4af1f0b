#!/usr/bin/env bash
# A local crowdpost cluster on 127.0.0.1 (PostgreSQL, pgbouncer, API and worker processes):
#   scripts/cluster.sh start|status|stop [--dir var/cluster] [--api-workers 2] [--workers 2] [--port 8000]
# The work is done by scripts/cluster.py with the venv's Python (`make install` first).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec "${CROWDPOST_PYTHON:-$root/.venv/bin/python}" "$root/scripts/cluster.py" "$@"
