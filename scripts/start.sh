#!/usr/bin/env bash
# The README's main job: the whole system on one machine (scripts/demo.ts): a local chain,
# 7 gateways with swtpm-backed HPCs, the four scenes, then an auditor's report from the
# chain. Installs the npm packages; a missing swtpm/tpm2-tools gets a one-line install hint.
# Arguments pass through: npm start -- --keep | --json | --nodes N | --log-level info
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh --tpm
npx hardhat compile --quiet
exec npx tsx scripts/demo.ts "$@"
