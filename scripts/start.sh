#!/usr/bin/env bash
# Quick start: set up and run Tapstack natively with the embedded default configuration.
# Data lives in ./data (override with TAPSTACK_DATA_DIR); secrets are generated on first start.
# Runs in the foreground under supervisord; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec scripts/run-native.sh
