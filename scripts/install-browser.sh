#!/usr/bin/env bash
# Install the headless Chromium (from Debian's own packages) that the
# end-to-end browser tests in tests/e2e drive through Playwright.
#
# Idempotent: does nothing when /usr/bin/chromium is already there.
# Needs root (or sudo) on Debian 12. Never runs `playwright install`:
# only Debian's package repositories are reachable.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) already installed"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser: must run as root (or have sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-browser: installing chromium from apt..."
$SUDO apt-get update -q
# fonts-dejavu-core: so screenshots of the app show real glyphs.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-dejavu-core

if [[ ! -x "$CHROMIUM" ]]; then
    echo "install-browser: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
