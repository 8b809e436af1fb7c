#!/usr/bin/env bash
# The test command (README, .ci/run): installs everything the suite needs, then runs lint,
# type checks and the whole pytest suite. Needs root (network namespaces, sshd test hosts,
# apt); re-runs itself with sudo when started as another user.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive
# apt packages the tests use (openssh-server, iproute2, rpm for librpm, python3-venv, ...)
mapfile -t pkgs < <(grep -v '^\s*#' tests/apt-packages.txt | sed 's/\s//g' | grep -v '^$' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Installing postgresql-15 may create and start the package's 'main' cluster: the history
  # tests start their own throwaway server (tests/pgserver.py), so stop what we just started.
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header | awk '$4 == "online" {print $1, $2}' |
      while read -r version cluster; do pg_ctlcluster "$version" "$cluster" stop || true; done
  fi
fi

VENV=${PINMGR_TEST_VENV:-.venv-test}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e '.[test]'

# community.general (yum_versionlock: emit ansible-playbook --hold on rpm hosts) is not part of
# ansible-core and Ansible Galaxy is not reachable from CI: its files come from the `ansible`
# wheel on PyPI (tests/fetch_collection.py), into the test venv.
COLLECTIONS="$PWD/$VENV/collections"
if [ ! -d "$COLLECTIONS/ansible_collections/community/general" ]; then
  "$VENV/bin/python" tests/fetch_collection.py "$COLLECTIONS" community.general
fi
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"

# Salt (emit salt-state: states rendered and applied by the real salt-call) in its OWN venv:
# salt pins many dependencies. Installed once, at an exact version (3008.5 needs a certifi
# newer than the index offers here); about 2 minutes cold.
SALT_VERSION=3008.4
SALT_VENV="$VENV-salt"
if ! "$SALT_VENV/bin/python" -c "import salt.version, sys; sys.exit(str(salt.version.__saltstack_version__) != '$SALT_VERSION')" 2>/dev/null; then
  python3 -m venv "$SALT_VENV"
  "$SALT_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$SALT_VENV/bin/python" -m pip install -q "salt==$SALT_VERSION"
fi
export PINMGR_TEST_SALT_CALL="$PWD/$SALT_VENV/bin/salt-call"

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "== mypy --strict"
"$VENV/bin/mypy" pinmgr
echo "== pytest"
set +e
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/pytest" -p no:cacheprovider --durations=25 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
