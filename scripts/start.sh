#!/usr/bin/env bash
# The README's main job: installs what it needs, then runs the demo on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh --tpm
npx hardhat compile --quiet
exec npx tsx scripts/demo.ts "$@"
