"""Who may use a source: the optional ``access`` rules of a source, the caller they
are checked against, and per-user paths (``{username}`` in a source's path)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

USERNAME = "{username}"
_SAFE_IN_SEGMENT = "@+-_.~"


@dataclass(frozen=True)
class Caller:
    """An authenticated user as the rules see them."""

    name: str
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, user: Any) -> Caller:
        """From a jupyter_server ``User``; JupyterHub's carry the hub's groups."""
        hub_user = getattr(user, "hub_user", None) or {}
        groups = hub_user.get("groups") or getattr(user, "groups", None) or ()
        return cls(str(user.username), frozenset(map(str, groups)))


@dataclass(frozen=True)
class Access:
    """``read`` and ``write`` lists of ``user:NAME``, ``group:NAME`` or ``*``;
    write implies read."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    def may_read(self, caller: Caller) -> bool:
        return _matches(self.read, caller) or _matches(self.write, caller)

    def may_write(self, caller: Caller) -> bool:
        return _matches(self.write, caller)


def _matches(rules: Iterable[str], caller: Caller) -> bool:
    for rule in rules:
        kind, _, name = rule.partition(":")
        if rule == "*" or (kind == "user" and name == caller.name):
            return True
        if kind == "group" and name in caller.groups:
            return True
    return False


def parse_access(value: Any, where: str) -> Access:
    """Validate an ``access`` mapping from the config; ValueError says what is wrong."""
    if not isinstance(value, Mapping) or set(value) - {"read", "write"}:
        raise ValueError(f"{where}: 'access' must be a mapping with 'read' and/or 'write'")
    lists = {}
    for key in ("read", "write"):
        rules = value.get(key) or []
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ValueError(f"{where}: access {key!r} must be a list of strings")
        for rule in rules:
            kind, sep, name = rule.partition(":")
            if rule != "*" and not (sep and kind in ("user", "group") and name):
                raise ValueError(
                    f"{where}: access rule {rule!r} is not 'user:NAME', 'group:NAME' or '*'"
                )
        lists[key] = tuple(rules)
    return Access(**lists)


def check_template(path: str, where: str) -> None:
    """A source path may hold ``{username}`` and no other placeholder."""
    if "{" in path.replace(USERNAME, "") or "}" in path.replace(USERNAME, ""):
        raise ValueError(f"{where}: the only placeholder a path may hold is {USERNAME}")


def user_segment(name: str) -> str:
    """The caller's name as one path segment: escaped, never a separator or ``..``."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
        raise PermissionError("This user name cannot name a per-user path")
    return quote(name, safe=_SAFE_IN_SEGMENT)
