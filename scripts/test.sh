#!/usr/bin/env bash
# Set up everything the tests need and run the whole suite (README: Quick start). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec node scripts/run-tests.mjs "$@"
