#!/usr/bin/env bash
# Ensure headless Chromium and its WebDriver (Debian packages) are installed and work.
#
# Usage: deploy/local/chromium.sh
#
# Installs 'chromium' and 'chromium-driver' with apt-get only if /usr/bin/chromium or
# /usr/bin/chromedriver is missing, then renders about:blank headless as a smoke test.
# Last line printed: the Chromium version.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

log() { echo "chromium: $*" >&2; }

if [ ! -x "$CHROMIUM" ] || [ ! -x "$CHROMEDRIVER" ]; then
  log "installing chromium and chromium-driver with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: Chromium's sandbox cannot run as root.
dom=$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --user-data-dir="$profile" --dump-dom about:blank 2>"$profile/stderr") || true
if [[ "$dom" != *"<body>"* ]]; then
  log "headless smoke test failed; chromium said:"
  tail -n 20 "$profile/stderr" >&2
  exit 1
fi
log "headless smoke test ok; $("$CHROMEDRIVER" --version | cut -d' ' -f1-2)"
"$CHROMIUM" --version 2>/dev/null  # (the Debian wrapper can print a harmless /dev/shm test error)
