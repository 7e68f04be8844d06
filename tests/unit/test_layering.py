"""DESIGN §2's rules between the parts, enforced by reading every import with ``ast``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)
IMPURE = {"socket", "threading", "tkinter", "pymysql", "selectors", "asyncio", "subprocess"}


def imports_of(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations(relative: str, source: str) -> list[str]:
    """Every rule ``relative`` (a path like ``server/hub.py``) breaks."""
    part = relative.split("/")[0]
    tops = {name.split(".")[0] for name in imports_of(source)}
    found = []
    if part == "common":
        foreign = tops - STDLIB - {"Crypto", "common", "__future__"}
        found += [f"common imports {n}" for n in sorted(foreign)]
        found += [f"common imports {n}" for n in sorted(tops & IMPURE)]
        if "basicConfig" in source:
            found.append("common configures logging")
    if part == "server":
        found += [f"server imports {n}" for n in sorted(tops & {"client", "tkinter"})]
    if part == "client":
        found += [f"client imports {n}" for n in sorted(tops & {"server", "pymysql"})]
    if "config" in tops and not relative.endswith("__main__.py"):
        found.append("only __main__ modules read config")
    if "pymysql" in tops and relative not in ("server/store.py", "server/provision.py"):
        found.append("pymysql outside store/provision")
    if "argon2" in tops and relative != "server/passwords.py":
        found.append("argon2 outside passwords.py")
    return found


def sources() -> list[Path]:
    return sorted(p for part in ("common", "server", "client") for p in (REPO / part).rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_module_keeps_the_rules(path: Path) -> None:
    relative = path.relative_to(REPO).as_posix()
    assert violations(relative, path.read_text(encoding="utf-8")) == []


def test_every_part_is_checked() -> None:
    parts = {p.relative_to(REPO).parts[0] for p in sources()}
    assert {"common", "server"} <= parts


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("common/x.py", "import socket", "common imports socket"),
        ("common/x.py", "import pymysql", "common imports pymysql"),
        ("common/x.py", "from server.store import Store", "common imports server"),
        ("server/x.py", "import tkinter", "server imports tkinter"),
        ("client/x.py", "from server import store", "client imports server"),
        ("server/service.py", "import config", "only __main__ modules read config"),
        ("server/hub.py", "import pymysql", "pymysql outside store/provision"),
        ("server/service.py", "from argon2 import PasswordHasher", "argon2 outside passwords.py"),
    ],
)
def test_the_rule_engine_catches_breaches(relative: str, source: str, expected: str) -> None:
    assert expected in violations(relative, source)
