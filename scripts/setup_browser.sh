#!/usr/bin/env bash
# Install Debian's chromium for the headless browser test (tests/test_browser.py), if missing.
# Needs root and apt-get; Playwright drives this browser, it never downloads one.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup_browser.sh: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get);" \
         "the browser test will be skipped. Install it with: apt-get install -y chromium" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! { timeout 600 apt-get update -qq && timeout 900 apt-get install -y -qq chromium >/dev/null; }; then
    echo "setup_browser.sh: installing chromium with apt-get failed; the browser test will be skipped" >&2
fi
