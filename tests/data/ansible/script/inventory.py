#!/usr/bin/env python3
"""A dynamic inventory script (Ansible's script plugin runs it with --list)."""

import json
import sys

INVENTORY = {
    "web": {"hosts": ["s-web1", "s-web2"], "vars": {"ansible_user": "deploy"}},
    "db": {"hosts": ["s-db1"]},
    "production": {"children": ["web", "db"]},
    "_meta": {
        "hostvars": {
            "s-web1": {"ansible_host": "10.1.0.1"},
            "s-web2": {"ansible_host": "10.1.0.2", "ansible_port": 2202},
            "s-db1": {
                "ansible_host": "10.1.0.3",
                "ansible_ssh_common_args": "-J ops@gw.example.com",
                "ansible_ssh_private_key_file": "/srv/keys/db",
            },
            "s-win": {"ansible_connection": "winrm"},
        }
    },
}
INVENTORY["web"]["hosts"].append("s-win")

if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        json.dump(INVENTORY, sys.stdout)
    else:
        json.dump({}, sys.stdout)
