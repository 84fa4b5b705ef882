#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries, which tests/pg_server.py uses
# to run throwaway servers on loopback for tests and benchmarks.
#
# Idempotent: does nothing when an initdb already exists under
# /usr/lib/postgresql/*/bin/. Needs root (or sudo) on Debian 12.
# Never starts a server: Debian's package may set up a "main" cluster, but
# nothing here starts, stops or uses it.
set -euo pipefail

# Print the highest PostgreSQL major version that has an initdb, or nothing.
installed_version() {
    local initdb
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x "$initdb" ]] || continue
        basename "$(dirname "$(dirname "$initdb")")"
    done | sort -n | tail -n 1
}

VERSION="$(installed_version)"
if [[ -n "$VERSION" ]]; then
    echo "install-postgres: PostgreSQL $VERSION already installed"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-postgres: must run as root (or have sudo) to apt-get install postgresql" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-postgres: installing postgresql from apt..."
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql

VERSION="$(installed_version)"
if [[ -z "$VERSION" ]]; then
    echo "install-postgres: apt-get finished but no initdb in /usr/lib/postgresql/*/bin/" >&2
    exit 1
fi
echo "install-postgres: PostgreSQL $VERSION installed"
