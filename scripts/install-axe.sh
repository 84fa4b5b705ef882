#!/usr/bin/env bash
# Install axe-core (the accessibility checker the browser tests run in every page) from
# the npm registry into tests/e2e/.axe/, a folder git ignores. No package.json and no lock
# file are written. Idempotent: does nothing when the wanted version is already there.
set -euo pipefail

VERSION=4.14
DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/.axe"
AXE="$DIR/node_modules/axe-core/axe.min.js"

if [[ -f "$AXE" ]] && grep -q "\"version\": \"$VERSION\." "$DIR/node_modules/axe-core/package.json"; then
    echo "install-axe: axe-core $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$DIR/node_modules/axe-core/package.json" | head -1) already installed"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [[ "$(id -u)" != "0" ]] && SUDO="sudo"
    echo "install-axe: installing npm from apt..."
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "axe-core@$VERSION"
test -f "$AXE"
echo "install-axe: axe-core installed in $DIR"
