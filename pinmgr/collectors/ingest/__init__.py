"""Saved data from other tools, read into the same model values a live collection yields.

One module per source (``ansible_facts``: Ansible fact caches and ``--tree`` output). Every
file is untrusted: bounded, type-checked, and a problem is one ``IngestError`` line naming the
file (and host).
"""
