#!/usr/bin/env bash
# Installs Debian's prometheus when it is absent and we may (root with apt-get).
# The integration tests start it themselves on 127.0.0.1; they are not skipped in CI.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # the package starts a system service where systemd runs; the tests start their own
  command -v systemctl >/dev/null 2>&1 && systemctl stop prometheus 2>/dev/null || true
  echo "installed $(prometheus --version 2>&1 | head -n1)"
else
  echo "note: prometheus is not installed; tests marked 'prometheus' need it (apt-get install prometheus)" >&2
fi
