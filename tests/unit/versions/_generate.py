"""Version-string generators for the oracle tests: realistic shapes plus adversarial noise.

Pairs are mostly (a, mutation of a) so that many land near each other (equal, one tilde apart,
same number with leading zeros); the rest are independent. A fixed seed keeps runs repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Callable

SEED = 20240611

# --- deb -----------------------------------------------------------------------------------
_DEB_UPSTREAM = [
    "1.2.3",
    "2.36",
    "1.18.0",
    "3.0.11",
    "9.2p1",
    "2.9.14+dfsg",
    "1.2.13.dfsg",
    "20230311",
    "0.0~git20230101.abc123",
    "5.2.15",
    "7.88.1",
    "1.21.22",
    "2.38.1",
    "1.0~rc1",
    "4.19.0",
    "252.22",
    "3.11.2",
    "0.9.8",
    "1.1.1w",
    "6.1.0",
    "10.2.1",
    "2:4.17",
    "1.5.2+really1.5.1",
]
_DEB_REVISION = [
    "",
    "1",
    "2",
    "6ubuntu14.4",
    "6ubuntu14",
    "1+deb12u1",
    "1~bpo12+1",
    "2ubuntu0.22.04.1",
    "1+b1",
    "3build1",
    "0ubuntu1~22.04.1",
    "1ubuntu1",
    "4+deb11u2",
    "1.1",
    "0.1",
    "13+deb12u2",
    "1~deb12u1",
    "1ubuntu0.1~esm1",
    "2+b2",
    "0ubuntu0.20.04.3",
]
_DEB_EPOCH = ["", "", "", "", "1:", "2:", "0:"]
_DEB_ADV_ALPHABET = [
    *"01234567890123456789abczAZ~~..+-:_^@*",
    "é",
    "\udcff",
    "\udc80",
    "~~",
    "00",
    "99999999999999999999999",
]
_DEB_ADV_EPOCH = ["+1:", "-0:", "00:", "007:", "-1:", "2147483647:", "2147483648:", "x:",
                  "1x:", "\n1:", ":", "+:", "99999999999999999999:", " 1:"]  # fmt: skip


def _deb_realistic(rng: random.Random) -> str:
    rev = rng.choice(_DEB_REVISION)
    return rng.choice(_DEB_EPOCH) + rng.choice(_DEB_UPSTREAM) + (f"-{rev}" if rev else "")


def _deb_adversarial(rng: random.Random) -> str:
    body = "".join(rng.choice(_DEB_ADV_ALPHABET) for _ in range(rng.randint(1, 8)))
    if rng.random() < 0.5:
        body = str(rng.randint(0, 12)) + body  # mostly start with a digit, as real ones do
    if rng.random() < 0.25:
        body = rng.choice(_DEB_ADV_EPOCH) + body
    if rng.random() < 0.05:
        body = rng.choice([" ", "\t"]) + body + rng.choice(["", " ", "\t "])
    if rng.random() < 0.03:
        body = body[: len(body) // 2] + " " + body[len(body) // 2 :]
    return body


# --- rpm -----------------------------------------------------------------------------------
_RPM_VERSION = [
    "2.28",
    "3.0.7",
    "6.5.6",
    "1.3.38",
    "4.18.0",
    "0.9.8~rc1",
    "1.0^20230101git1234",
    "2.9.14",
    "1.1.1k",
    "5.14.0",
    "9.0.2081",
    "252",
    "1.2.3",
    "2.02",
    "8.5.0",
    "1.0~beta2^post1",
]
_RPM_RELEASE = [
    "",
    "225.el9_3",
    "25.el9_3",
    "300.fc39",
    "1.amzn2023.0.4",
    "513.24.1.el8_9",
    "1.fc39",
    "150400.3.6.1",
    "1.el8",
    "2.el9",
    "1.amzn2.0.5",
    "1.16.amzn1",
    "0.rc1.fc40",
    "4.el7_9",
    "362.8.1.el9_3",
    "1.module+el8.9.0+19736+c4f6c1a8",
]
_RPM_EPOCH = ["", "", "", "", "1:", "2:", "0:", "32:"]
_RPM_ADV_ALPHABET = [
    *"01234567890123456789abczAZ~~^^..-_+: ",
    "é",
    "\udcff",
    "\udc80",
    "~~",
    "^^",
    "00",
    "0001",
    "99999999999999999999999",
]
_RPM_ADV_EPOCH = ["+1:", "-0:", "00:", "1:", ":", "18446744073709551616:", "x:", "1x:"]


def _rpm_realistic(rng: random.Random) -> str:
    rel = rng.choice(_RPM_RELEASE)
    return rng.choice(_RPM_EPOCH) + rng.choice(_RPM_VERSION) + (f"-{rel}" if rel else "")


def _rpm_adversarial(rng: random.Random) -> str:
    body = "".join(rng.choice(_RPM_ADV_ALPHABET) for _ in range(rng.randint(0, 8)))
    if rng.random() < 0.5:
        body = str(rng.randint(0, 12)) + body
    if rng.random() < 0.25:
        body = rng.choice(_RPM_ADV_EPOCH) + body
    return body


# --- shared ----------------------------------------------------------------------------------
_SUFFIXES = ["~rc1", "~", "~~", "^git1", "^", ".0", "+b1", "a", "-1", ".", "0", "+deb12u1"]


def _mutate(rng: random.Random, v: str, alphabet: list[str]) -> str:
    """One small edit, so a pair often differs in exactly the place that decides the order."""
    if not v:
        return rng.choice(alphabet)
    i = rng.randrange(len(v))
    op = rng.randrange(7)
    if op == 0:
        return v[:i] + rng.choice(alphabet) + v[i:]
    if op == 1:
        return v[:i] + v[i + 1 :]
    if op == 2:
        return v[:i] + rng.choice(alphabet) + v[i + 1 :]
    if op == 3:
        return v + rng.choice(_SUFFIXES)
    if op == 4 and v[i].isdigit():
        return v[:i] + "0" + v[i:]  # a leading zero: same value
    if op == 5 and v[i].isdigit():
        return v[:i] + str(int(v[i]) + 1) + v[i + 1 :]
    return v


def _pairs(
    rng: random.Random,
    n: int,
    realistic: Callable[[random.Random], str],
    adversarial: Callable[[random.Random], str],
    alphabet: list[str],
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k in range(n):
        gen = realistic if k % 2 == 0 else adversarial
        a = gen(rng)
        r = rng.random()
        if r < 0.1:
            b = a
        elif r < 0.7:
            b = _mutate(rng, a, alphabet)
            if rng.random() < 0.3:
                b = _mutate(rng, b, alphabet)
        else:
            b = gen(rng)
        out.append((a, b) if rng.random() < 0.5 else (b, a))
    return out


def deb_pairs(n: int, seed: int = SEED) -> list[tuple[str, str]]:
    """``n`` pairs; some contain versions dpkg rejects (the oracle checks those too).

    Never "" or "<unknown>": ``dpkg --compare-versions`` reads those as "no version" (sorting
    below everything) while a pin must be a real version, so pinmgr rejects "" on purpose.
    """
    rng = random.Random(seed)
    pairs = _pairs(rng, 2 * n, _deb_realistic, _deb_adversarial, _DEB_ADV_ALPHABET)
    return [p for p in pairs if not {"", "<unknown>"} & set(p)][:n]


def deb_strings(n: int, seed: int = SEED + 1) -> list[str]:
    """Single strings for the accept/reject oracle; never "" (dpkg reads that as "no version")."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        v = _deb_adversarial(rng) if rng.random() < 0.7 else _deb_realistic(rng)
        v = _mutate(rng, v, _DEB_ADV_ALPHABET) if rng.random() < 0.5 else v
        if v and v != "<unknown>" and "\0" not in v:
            out.append(v)
    return out


# Shapes where a key built from tuples goes wrong: zero parts, '0~', empty and zero revisions,
# epochs, leading zeros and digit runs longer than Python's int-from-string limit (4,300).
_DEB_EDGE_EPOCH = ["", "", "", "0:", "1:", "00:", "01:", "2:"]
_DEB_EDGE_TOKEN = ["0", "0", "00", "1", "01", "10", "9", "~", "~", "0~", "~0", ".", ".0", "+", "a",
                   "z", "A", "-0", "-0~", "-~", "-1", "-00", ".~", "~~", "+0", "0.0"]  # fmt: skip
_DEB_LONG = ["9" * 4301, "1" + "0" * 5000, "0" * 4400 + "7", "9" * 5000]


def _deb_edge(rng: random.Random) -> str:
    tokens = [rng.choice(_DEB_EDGE_TOKEN) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.08:
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(_DEB_LONG))
    body = "".join(tokens)
    if rng.random() < 0.8 and not body[0].isdigit():
        body = rng.choice(["0", "1", "00"]) + body
    return rng.choice(_DEB_EDGE_EPOCH) + body


def deb_edge_pairs(n: int, seed: int = SEED + 3) -> list[tuple[str, str]]:
    """Pairs of the edge shapes, mostly a string and a one-token edit of it."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        a = _deb_edge(rng)
        r = rng.random()
        if r < 0.15:
            b = a
        elif r < 0.75:
            token = rng.choice(_DEB_EDGE_TOKEN)
            b = a + token if rng.random() < 0.6 else token[:1].join(a.rsplit(a[-1:], 1))
        else:
            b = _deb_edge(rng)
        if a and b and "<unknown>" not in (a, b):
            out.append((a, b) if rng.random() < 0.5 else (b, a))
    return out


def deb_edge_strings(n: int, seed: int = SEED + 4) -> list[str]:
    """Distinct edge-shape strings (for sorting, then asking dpkg about each neighbour)."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out[_deb_edge(rng)] = None
    return list(out)


def rpm_pairs(n: int, seed: int = SEED + 2) -> list[tuple[str, str]]:
    return _pairs(random.Random(seed), n, _rpm_realistic, _rpm_adversarial, _RPM_ADV_ALPHABET)
