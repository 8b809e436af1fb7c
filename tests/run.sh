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

# community.general (yum_versionlock: emit ansible-playbook --hold on rpm hosts) is not part of
# ansible-core and Ansible Galaxy is not reachable from CI: its files come from the `ansible`
# wheel on PyPI (tests/fetch_collection.py), into the test venv. Fetched while pip installs
# the test dependencies (independent downloads; the wait below fails the run if it failed).
COLLECTIONS="$PWD/$VENV/collections"
fetch_pid=
if [ ! -d "$COLLECTIONS/ansible_collections/community/general" ]; then
  "$VENV/bin/python" tests/fetch_collection.py "$COLLECTIONS" community.general &
  fetch_pid=$!
fi
"$VENV/bin/python" -m pip install -q -e '.[test]'
if [ -n "$fetch_pid" ]; then
  wait "$fetch_pid"
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
# In parallel (pytest-xdist): each test module whole on one worker (its module-scoped lab
# hosts stay shared), modules in collection order so the long functional modules start first.
# Two workers per core, at most 8: the tests mostly wait (hosts, ssh, subprocesses, timeouts),
# so on 2 cores 4 workers beat 2 (and 8: more start-up, and lab slots are shared out per
# worker). PINMGR_TEST_WORKERS=N sets the count, 0 runs serially. Parallel-safety rules for
# new tests: tests/conftest.py.
workers=$(( $(nproc) * 2 ))
workers=$(( workers > 8 ? 8 : workers ))
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/pytest" -p no:cacheprovider --durations=25 \
  -n "${PINMGR_TEST_WORKERS:-$workers}" --dist loadfile --no-loadscope-reorder "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
