#!/usr/bin/env bash
# Install everything the test suite needs, check style and types, run every test.
# Safe to re-run. As root (CI) it installs Debian packages; otherwise it says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(nginx debootstrap ruby prometheus-alertmanager tmux)

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v ruby >/dev/null 2>&1 || missing+=(ruby)  # `ruby -c Vagrantfile` test
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)  # monitor
command -v tmux >/dev/null 2>&1 || missing+=(tmux)  # runs `mlctl tui` in a real terminal
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian packages: ${APT_PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
    # The package starts nginx on port 80; tests start their own on loopback.
    (systemctl disable --now nginx || service nginx stop || nginx -s stop) >/dev/null 2>&1 || true
    # Likewise Alertmanager: the monitor's tests start their own on loopback.
    (systemctl disable --now prometheus-alertmanager || service prometheus-alertmanager stop) \
      >/dev/null 2>&1 || true
  else
    echo "== note: ${missing[*]} not installed; tests that need them will be skipped (run as root to install)"
  fi
fi

echo "== installing mlctl with its dev extra"
python -m pip install -q --disable-pip-version-check -e '.[dev]'

echo "== ruff"
python -m ruff check .
echo "== mypy"
python -m mypy
echo "== pytest"
python -m pytest -n 2 "$@"
