#!/usr/bin/env bash
# Set up (if needed, chromium for the browser test too) and run the whole test suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_browser.sh
. .venv/bin/activate
python -m pytest -n 2 -q "$@"
