#!/usr/bin/env bash
# Set up (if needed, chromium for the browser test too), lint (ruff, settings in pyproject.toml) and run the whole
# test suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_browser.sh
. .venv/bin/activate
ruff check .
python -m pytest -n 2 -q "$@"
