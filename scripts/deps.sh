#!/usr/bin/env bash
# Installs what the lab and the tests need on a Debian machine, once:
# Debian packages (nginx with Lua, python3-marathon for client
# compatibility tests, iproute2 for pod networks, wrk for benchmarks, gcc for
# the race detector, prometheus and promtool for the telemetry tests,
# chromium and fonts-liberation for the dashboard's end-to-end test in
# headless Chromium, docker-registry and minisign for the offline bundle's
# end-to-end and signature tests) and the
# lab's Kubernetes binaries (built from source, cached per version).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(nginx libnginx-mod-http-lua lua-resty-core python3-marathon iproute2 wrk curl ca-certificates gcc libc6-dev
  prometheus chromium fonts-liberation docker-registry minisign)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian nginx package starts a system nginx on :80; the lab runs its own.
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
  # The Debian prometheus package starts a system Prometheus on :9090; the
  # telemetry tests run their own on a free port.
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || $SUDO service prometheus stop >/dev/null 2>&1 || true
  # The Debian docker-registry package starts a system registry on :5000; the
  # bundle tests run their own registries on free ports.
  $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || $SUDO service docker-registry stop >/dev/null 2>&1 || true
fi

# A lab started by root runs its workloads (Marathon tasks, pod containers)
# as this unprivileged account, and nginx's workers as Debian's www-data.
if ! getent passwd switchyard-lab >/dev/null; then
  echo "deps: creating the system user switchyard-lab (the lab's tasks and pods run as it)"
  $SUDO useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin switchyard-lab
fi

if [ -x scripts/build-kube.sh ]; then
  scripts/build-kube.sh
fi
