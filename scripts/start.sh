#!/usr/bin/env bash
# The README's main job: installs what it needs, deploys the contracts to a fresh local
# chain and prints their addresses and a registry summary (scripts/deploy-local.ts).
# The end-to-end demo with 7 gateways is `npm run demo` (see README: not yet reliable).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh
npx hardhat compile --quiet
exec npx tsx scripts/deploy-local.ts "$@"
