#!/usr/bin/env bash
# Set up everything the tests need, then run the whole suite (lint, types, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check src tests bench
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest's exit code 5 means no test ran: that is a failure too.
if [[ $rc -eq 5 ]]; then
    echo "no tests ran" >&2
    exit 1
fi
exit $rc
