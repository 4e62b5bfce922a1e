"""HTTP API route selection: ``METHOD /path`` keys with ``{var}`` and greedy ``{var+}``
segments, the most specific match first, ``$default`` when nothing else matches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from local_gateway.deployment import Route


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


def _match_path(template: str, path: str) -> dict[str, str] | None:
    wanted = template.strip("/").split("/") if template.strip("/") else []
    actual = path.strip("/").split("/") if path.strip("/") else []
    parameters: dict[str, str] = {}
    for index, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            rest = actual[index:]
            if index != len(wanted) - 1 or not rest:
                return None
            parameters[part[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not actual[index]:
                return None
            parameters[part[1:-1]] = actual[index]
        elif part != actual[index]:
            return None
    return parameters if len(actual) == len(wanted) else None


def select(routes: Iterable[Route], method: str, path: str) -> Match | None:
    best: tuple[tuple[int, int, int], Match] | None = None
    default = None
    for route in routes:
        if route.key == "$default":
            default = route
            continue
        route_method, _, template = route.key.partition(" ")
        if route_method not in ("ANY", method):
            continue
        parameters = _match_path(template, path)
        if parameters is None:
            continue
        greedy = template.rstrip("/").endswith("+}")
        # Not greedy beats greedy, more literal segments beat fewer, a method beats ANY.
        literals = len([p for p in template.split("/") if p and not p.startswith("{")])
        rank = (0 if greedy else 1, literals, 1 if route_method == method else 0)
        if best is None or rank > best[0]:
            best = (rank, Match(route, parameters))
    if best is not None:
        return best[1]
    return Match(default, {}) if default is not None else None
