"""Who may use a source: the optional ``access`` rules of a source, the caller they
are checked against, and per-user paths (``{username}`` in a source's path)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

USERNAME = "{username}"
RULE_KINDS = ("user", "group", "service")
MAX_SEGMENT = 255  # bytes: the longest file name of common filesystems
_SAFE_IN_SEGMENT = "@+-_.~"


@dataclass(frozen=True)
class Caller:
    """An authenticated principal as the rules see it: a user, or (JupyterHub) a
    service, which is never the user of the same name."""

    name: str
    groups: frozenset[str] = frozenset()
    kind: str = "user"  # or "service"
    admin: bool = False  # a JupyterHub admin

    @classmethod
    def of(cls, user: Any) -> Caller:
        """From a jupyter_server ``User``; JupyterHub's carry the hub's model."""
        hub_user = getattr(user, "hub_user", None) or {}
        groups = hub_user.get("groups") or getattr(user, "groups", None) or ()
        return cls.of_hub_model({**hub_user, "groups": groups}, str(user.username))

    @classmethod
    def of_hub_model(cls, model: Mapping[str, Any], name: str) -> Caller:
        """From a JupyterHub user or service model (``kind``, ``groups``, ``admin``)."""
        kind = "service" if model.get("kind") == "service" else "user"
        admin = kind == "user" and model.get("admin") is True
        return cls(name, frozenset(map(str, model.get("groups") or ())), kind, admin)

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    def may_use(self, access: Access | None) -> bool:
        """Whether a source with these rules exists for this caller at all: one
        without rules is for every user, and for no service."""
        return access.may_read(self) if access is not None else self.is_user


@dataclass(frozen=True)
class Access:
    """``read`` and ``write`` lists of rules (``user:NAME``, ``group:NAME``,
    ``service:NAME``, ``admin``, ``*``); write implies read."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    def may_read(self, caller: Caller) -> bool:
        return matches(self.read, caller) or matches(self.write, caller)

    def may_write(self, caller: Caller) -> bool:
        return matches(self.write, caller)


def matches(rules: Iterable[str], caller: Caller) -> bool:
    """Whether a rule names ``caller``. ``*``, ``user:``, ``group:`` and ``admin`` name
    users only; a service is named by ``service:NAME`` and by nothing else."""
    return any(_names(rule, caller) for rule in rules)


def _names(rule: str, caller: Caller) -> bool:
    kind, _, name = rule.partition(":")
    if not caller.is_user:
        return kind == "service" and name == caller.name
    return (
        rule == "*"
        or (kind == "user" and name == caller.name)
        or (kind == "group" and name in caller.groups)
        or (rule == "admin" and caller.admin)
    )


def check_rules(rules: Any, where: str) -> tuple[str, ...]:
    """Validate a list of rules; ValueError says which one is wrong."""
    if not isinstance(rules, (list, tuple)) or not all(isinstance(r, str) for r in rules):
        raise ValueError(f"{where} must be a list of strings")
    for rule in rules:
        kind, sep, name = rule.partition(":")
        if rule not in ("*", "admin") and not (sep and kind in RULE_KINDS and name):
            raise ValueError(
                f"{where}: rule {rule!r} is not 'user:NAME', 'group:NAME', "
                "'service:NAME', 'admin' or '*'"
            )
    return tuple(rules)


def parse_access(value: Any, where: str) -> Access:
    """Validate an ``access`` mapping from the config; ValueError says what is wrong."""
    if not isinstance(value, Mapping) or set(value) - {"read", "write"}:
        raise ValueError(f"{where}: 'access' must be a mapping with 'read' and/or 'write'")
    lists = {key: check_rules(value.get(key) or [], f"{where}: access {key!r}") for key in value}
    return Access(**lists)


def check_template(path: str, where: str) -> None:
    """A source path may hold ``{username}`` and no other placeholder."""
    if "{" in path.replace(USERNAME, "") or "}" in path.replace(USERNAME, ""):
        raise ValueError(f"{where}: the only placeholder a path may hold is {USERNAME}")


def user_segment(name: str) -> str:
    """The caller's name as one path segment: escaped, never a separator or ``..``."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
        raise PermissionError("This user name cannot name a per-user path")
    segment = quote(name, safe=_SAFE_IN_SEGMENT)
    if len(segment) > MAX_SEGMENT:
        raise PermissionError(
            f"This user name is too long to name a per-user folder (at most {MAX_SEGMENT} "
            "bytes once escaped)"
        )
    return segment
