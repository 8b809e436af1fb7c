#!/usr/bin/env bash
# Installs pinmgr into ./.venv (PEP 668-safe: never touches the system Python).
# On a stock Debian/Ubuntu, python3-venv may be missing: it is installed with apt (sudo if needed).
# --with-ansible also installs ansible-core (the `ansible` extra), which Ansible inventories need.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="."
for arg in "$@"; do
  case "$arg" in
    --with-ansible) TARGET=".[ansible]" ;;
    -h|--help) echo "usage: bash scripts/install.sh [--with-ansible]"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (usage: bash scripts/install.sh [--with-ansible])" >&2; exit 2 ;;
  esac
done
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing python3-venv (needed to create a virtualenv)" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q "$TARGET"
echo "pinmgr installed: $(.venv/bin/pinmgr version) -> .venv/bin/pinmgr" >&2
