#!/usr/bin/env bash
# Debian packages the VPS tests run for real: Pebble (ACME server), Caddy, systemd-analyze, qemu-user
# with the arm64 C library (runs the arm64 release binary), openssl, file, promtool (prometheus: checks
# /metrics and docs/alerts.yml); for the loopback Telegram's tests Telethon (an independent MTProto
# client) and microsocks (a SOCKS5 proxy). Installs only what is missing, only as root; quiet.
# Idempotent: a second run does nothing.
set -uo pipefail
pkgs=(pebble caddy systemd qemu-user-static libc6-arm64-cross openssl file prometheus python3-telethon microsocks)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "warning: not root; the VPS and loopback tests need these Debian packages: ${missing[*]}" >&2
  exit 0
fi
# caddy's package starts a service on :80 (prometheus's on :9090) where systemd runs; the tests start their own.
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null) \
  || echo "warning: could not install ${missing[*]}; the tests that need them will fail" >&2
