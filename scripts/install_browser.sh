#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser/) when it is missing.
# Playwright drives it by path; `playwright install` is never used, because it downloads
# its own browser build from a CDN that our machines (and CI) cannot reach.
set -euo pipefail

CHROMIUM=${PODIUM_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: $CHROMIUM is missing and apt-get is not available; install Chromium and set PODIUM_CHROMIUM" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "installing Debian's chromium (for the browser tests)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "error: chromium was installed but $CHROMIUM does not exist" >&2
  exit 1
fi
