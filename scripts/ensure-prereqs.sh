#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine with Node 20+:
# npm packages (npm ci) and, for the TPM parts, swtpm + tpm2-tools from apt.
# Usage: scripts/ensure-prereqs.sh [--tpm] [--browser] [--browser]
# --browser: Debian's chromium for the dashboard's headless browser tests (test/web).
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "trustmesh needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

stamp=node_modules/.trustmesh-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

want_tpm=no
for arg in "$@"; do [ "$arg" = "--tpm" ] && want_tpm=yes; done
if [ "$want_tpm" = "yes" ]; then
  missing=""
  for tool in swtpm swtpm_setup tpm2_quote tpm2_eventlog; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ]; then
      echo "==> apt-get install swtpm swtpm-tools tpm2-tools (missing:$missing)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq swtpm swtpm-tools tpm2-tools >/dev/null
    else
      echo "missing:$missing. Install them with: sudo apt-get install -y swtpm swtpm-tools tpm2-tools" >&2
      exit 1
    fi
  fi
fi

# Optional: the dashboard's browser tests drive Debian's chromium (never a downloaded browser).
for arg in "$@"; do
  if [ "$arg" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ]; then
      echo "==> apt-get install chromium (for test/web)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq chromium >/dev/null
    else
      echo "chromium is missing. Install it with: sudo apt-get install -y chromium" >&2
      exit 1
    fi
  fi
done
