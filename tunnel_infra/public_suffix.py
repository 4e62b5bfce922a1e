"""Whether a domain is a public suffix, by the Public Suffix List shipped in ``data/``.

Browsers scope cookies and "same site" by the PSL: under a domain that is not on it, every
``<subdomain>.<domain>`` is one site, and a page in one may set cookies for all of them. The
rules and the matching algorithm: https://github.com/publicsuffix/list/wiki/Format.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

LIST_PATH = Path(__file__).resolve().parent / "data" / "public_suffix_list.dat"


@dataclass(frozen=True)
class Rules:
    exact: frozenset[str]
    wildcards: frozenset[str]  # "*.ck" kept as "ck"
    exceptions: frozenset[str]  # "!www.ck" kept as "www.ck"


def parse(text: str) -> Rules:
    exact, wildcards, exceptions = set(), set(), set()
    for line in text.splitlines():
        rule = line.strip().split(" ", 1)[0].lower()
        if not rule or rule.startswith("//"):
            continue
        if rule.startswith("!"):
            exceptions.add(rule[1:])
        elif rule.startswith("*."):
            wildcards.add(rule[2:])
        else:
            exact.add(rule)
    return Rules(frozenset(exact), frozenset(wildcards), frozenset(exceptions))


@cache
def shipped_rules() -> Rules:
    return parse(LIST_PATH.read_text(encoding="utf-8"))


def _unicode(name: str) -> str:
    """The list holds names in Unicode; a configured name may be in punycode (``xn--``)."""
    labels = []
    for label in name.lower().rstrip(".").split("."):
        try:
            labels.append(
                label.encode("ascii").decode("idna") if label.startswith("xn--") else label
            )
        except UnicodeError:
            labels.append(label)
    return ".".join(labels)


def is_public_suffix(name: str, rules: Rules | None = None) -> bool:
    """True when ``name`` itself is a public suffix: each name directly under it is a site of
    its own. The list's algorithm, for the name as a whole: an exception rule wins, then an
    exact or wildcard rule; a bare TLD is one by the default rule ``*``."""
    rules = rules or shipped_rules()
    domain = _unicode(name)
    if domain in rules.exceptions:
        return False
    if domain in rules.exact:
        return True
    _, _, parent = domain.partition(".")
    if parent and parent in rules.wildcards:
        return True
    return not parent
