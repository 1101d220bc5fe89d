#!/usr/bin/env bash
# Runs every test with bun test and closes with one line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
# Headless Chromium renders /docs in one test; install it when missing (CI runs as root).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: chromium could not be installed; the /docs rendering test will fail"
fi
bash scripts/test-deps.sh  # pebble, caddy, systemd, qemu-user… for tests/vps
# The checks that keep the layout: Biome (biome.json) and the import boundaries (docs/architecture.md).
checks=0
node_modules/.bin/biome ci --error-on-warnings . || checks=1
node_modules/.bin/bun scripts/check-boundaries.ts || checks=1
out=$(mktemp)
node_modules/.bin/bun test --timeout 60000 "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass$' "$out" | tail -1 | grep -Eo '[0-9]+')
fail=$(grep -Eo '^ *[0-9]+ fail$' "$out" | tail -1 | grep -Eo '[0-9]+')
rm -f "$out"
pass=${pass:-0}; fail=${fail:-0}
if [ "$checks" -ne 0 ]; then fail=$((fail + 1)); status=1; echo "lint or boundary check failed (see above)"; fi
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "${pass} passed, ${fail} failed"
exit "$status"
