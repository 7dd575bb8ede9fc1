#!/usr/bin/env bash
# Set up vidsync on a fresh Debian machine: system packages, a virtual environment
# in .venv, and the pinned Python packages. Safe to run again.
#   scripts/setup.sh          the agent only
#   scripts/setup.sh --test   also what the test suite needs (Syncthing, Chromium, Ceph radosgw,
#                             Redis)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        local sudo=""
        [[ $(id -u) -ne 0 ]] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

apt_install python3 python3-venv python3-pip
if ((want_test)); then
    apt_install syncthing chromium radosgw ceph-mon ceph-osd redis-server ca-certificates
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if ((want_test)); then
    .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
else
    .venv/bin/python -m pip install -q -c constraints.txt -e .
fi
