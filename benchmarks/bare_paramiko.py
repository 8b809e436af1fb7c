"""The issue's reference "bare paramiko script": one thread and one ``SSHClient`` per host.

Each thread connects (known_hosts checked, unknown keys rejected, the lab key only), runs
``dpkg-query -W`` and reads its output: the same work as the OpenSSH fan-out row, in Python.
``collect.py`` runs it as its own process, so interpreter start and imports count as they do
for ``pinmgr check``. Usage: ``python bare_paramiko.py KNOWN_HOSTS KEY USER ADDRESS...``
"""

from __future__ import annotations

import sys
import threading

import paramiko

DPKG = r"dpkg-query -W -f '${binary:Package}\t${Version}\t${db:Status-Abbrev}\n'"


def main(argv: list[str]) -> int:
    known_hosts, key_file, user, *addresses = argv
    key = paramiko.Ed25519Key.from_private_key_file(key_file)
    outputs: dict[str, bytes] = {}
    errors: list[str] = []

    def one(address: str) -> None:
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(known_hosts)
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(address, username=user, pkey=key, allow_agent=False, look_for_keys=False)
            _, stdout, _ = client.exec_command(DPKG)
            outputs[address] = stdout.read()
        except Exception as exc:  # reported below: the benchmark must not time a failure
            errors.append(f"{address}: {exc}")
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(a,)) for a in addresses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [a for a, out in outputs.items() if b"\tii " not in out]
    if errors or bad or len(outputs) != len(addresses):
        print("; ".join(errors[:5] + bad[:5]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
