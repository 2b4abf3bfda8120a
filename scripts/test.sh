#!/usr/bin/env bash
# The README's test command: installs what it needs, lints, then runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-prereqs.sh --tpm --browser

echo "==> compile contracts (solc from the npm package, offline)"
npx hardhat compile --quiet
echo "==> solhint"
npx solhint --max-warnings 0 'contracts/**/*.sol'
echo "==> tsc --noEmit (strict)"
npx tsc --noEmit -p tsconfig.json
echo "==> mocha"
if [ "$#" -eq 0 ]; then set -- "test/**/*.test.ts"; fi
npx mocha "$@"
