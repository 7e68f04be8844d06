"""The rules between the parts (docs/ARCHITECTURE.md §1), checked by reading every import.

Rules: ``common`` imports only the stdlib, ``Crypto`` (pycryptodome, the envelope),
``cryptography`` (pyca, the records' AES-GCM), ``argon2`` (only the key derivation) and
itself, and never the impure modules (sockets, threads, Tk, SQL, event loops) nor sets up
logging; ``server`` never imports ``client`` or ``tkinter``; ``client`` never imports
``server`` or ``pymysql``; only
``__main__`` modules (and tests) read ``config``; only ``server/store.py``,
``server/store_rooms.py``, ``server/store_accounts.py`` and ``server/provision.py`` import
``pymysql``; only
``server/passwords.py`` (the server's hashes) and ``common/account_keys.py`` (the client's
key derivation, pure: bytes in, bytes out) import ``argon2``.
From the layout: ``server/listener.py`` is the server's only socket code,
``client/session.py`` the client's, and ``client/ui/`` imports no socket or crypto.

And no import circle between the project's modules (``config``, ``bench`` included), counting
imports inside functions too: a circle means two modules that cannot be read, tested or
changed one without the other (``listener.main`` once imported ``serve``, which imported the
listener).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PARTS = ("common", "server", "client")
GRAPH_PARTS = (*PARTS, "bench")
GRAPH_FILES = ("config.py",)
STDLIB = frozenset(sys.stdlib_module_names)
COMMON_MAY_IMPORT = frozenset({"Crypto", "cryptography", "common", "argon2"})
IMPURE = frozenset(
    {
        "socket", "_socket", "socketserver", "ssl", "selectors", "select", "asyncio",
        "threading", "_thread", "multiprocessing", "concurrent", "subprocess",
        "tkinter", "_tkinter", "pymysql",
    }
)
LOGGING_SETUP = frozenset({"basicConfig", "dictConfig", "fileConfig"})
PYMYSQL_HOMES = frozenset({
    "server/store.py", "server/store_rooms.py", "server/store_signup.py",
    "server/store_accounts.py", "server/provision.py"})
ARGON2_HOMES = frozenset({"server/passwords.py", "common/account_keys.py"})
SOCKET_HOMES = frozenset({"server/listener.py", "client/session.py"})
CONFIG_RULE = "config read outside a __main__ module"


def _package_of(relative: str) -> list[str]:
    parts = relative.removesuffix(".py").split("/")
    return parts[:-1]  # the package a module (or an __init__) lives in


def imports_of(relative: str, tree: ast.AST) -> set[str]:
    """Every module name ``tree`` imports, absolute, with ``from a import b`` also as ``a.b``.

    Relative imports are resolved against ``relative``; ``importlib.import_module("x")`` and
    ``__import__("x")`` with a literal name count as imports too.
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(relative)
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module:
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                names.add(str(first.value))
    return names


def logging_setup_calls(tree: ast.AST) -> list[str]:
    """Calls such as ``logging.basicConfig(...)`` or a bare ``basicConfig(...)``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in LOGGING_SETUP:
                found.append(called)
    return found


def violations(relative: str, source: str) -> list[str]:
    """Every rule the module at ``relative`` (like ``server/hub.py``) breaks."""
    tree = ast.parse(source, filename=relative)
    names = imports_of(relative, tree)
    tops = {name.split(".")[0] for name in names}
    part = relative.split("/")[0]
    found: list[str] = []
    if part == "common":
        foreign = tops - STDLIB - COMMON_MAY_IMPORT
        found += [f"common imports non-stdlib {n}" for n in sorted(foreign)]
        found += [f"common imports impure {n}" for n in sorted(tops & IMPURE)]
        found += [f"common sets up logging ({c})" for c in logging_setup_calls(tree)]
        if "logging.config" in names:
            found.append("common sets up logging (logging.config)")
    if part == "server":
        found += [f"server imports {n}" for n in sorted(tops & {"client", "tkinter"})]
    if part == "client":
        found += [f"client imports {n}" for n in sorted(tops & {"server", "pymysql"})]
    if "config" in tops and not relative.endswith("__main__.py"):
        found.append(CONFIG_RULE)
    if "pymysql" in tops and relative not in PYMYSQL_HOMES:
        found.append("pymysql outside store.py/provision.py")
    if "argon2" in tops and relative not in ARGON2_HOMES:
        found.append("argon2 outside passwords.py")
    if part in ("server", "client") and "socket" in tops and relative not in SOCKET_HOMES:
        found.append("socket outside listener.py/session.py")
    if relative.startswith("client/ui/"):
        banned = (tops & {"Crypto", "cryptography", "socket"}) | {
            n for n in names if n == "common.crypto"
        }
        found += [f"ui imports {n}" for n in sorted(banned)]
    return found


def sources() -> list[Path]:
    return sorted(p for part in PARTS for p in (REPO / part).rglob("*.py"))


def _id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@pytest.mark.parametrize("path", sources(), ids=_id)
def test_module_keeps_the_rules(path: Path) -> None:
    assert violations(_id(path), path.read_text(encoding="utf-8")) == []


def test_the_scan_sees_the_whole_core() -> None:
    seen = {_id(p) for p in sources()}
    core = {"errors", "framing", "messages", "crypto", "handshake", "record", "connection"}
    assert {f"common/{name}.py" for name in core} <= seen
    assert any(name.startswith("server/") for name in seen)


# --- no import circles ---------------------------------------------------------------------


def module_name(relative: str) -> str:
    """``server/hub.py`` -> ``server.hub``; ``server/__init__.py`` -> ``server``."""
    return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports, from ``{relative path: source}``."""
    names = {module_name(relative): relative for relative in modules}
    graph: dict[str, set[str]] = {}
    for name, relative in names.items():
        edges: set[str] = set()
        for imported in imports_of(relative, ast.parse(modules[relative], filename=relative)):
            parts = imported.split(".")
            for end in range(len(parts), 0, -1):  # the longest prefix that is one of ours
                target = ".".join(parts[:end])
                if target in names:
                    if target != name:
                        edges.add(target)
                    break
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other in a circle (Tarjan's SCC), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def project_modules() -> dict[str, str]:
    paths = [p for part in GRAPH_PARTS for p in (REPO / part).rglob("*.py")]
    paths += [REPO / name for name in GRAPH_FILES]
    return {_id(p): p.read_text(encoding="utf-8") for p in sorted(paths)}


def test_no_import_circles() -> None:
    assert import_cycles(import_graph(project_modules())) == []


def test_the_circle_finder_sees_imports_inside_functions() -> None:
    modules = {
        "server/listener.py": "def main():\n    from server.serve import run\n    return run()",
        "server/serve.py": "from server.listener import ChatServer",
        "server/hub.py": "from common.messages import encode_message",
        "server/__main__.py": "from server import serve",
    }
    assert import_cycles(import_graph(modules)) == [["server.listener", "server.serve"]]
    modules["server/listener.py"] = "import socket"
    assert import_cycles(import_graph(modules)) == []


def test_the_circle_finder_sees_longer_circles_and_relative_imports() -> None:
    modules = {
        "client/a.py": "from .b import x",
        "client/b.py": "import client.c",
        "client/c.py": "from client import a",
    }
    assert import_cycles(import_graph(modules)) == [["client.a", "client.b", "client.c"]]


# --- the rule engine itself must be able to fail ----------------------------------------------


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("common/x.py", "import socket", "common imports impure socket"),
        ("common/x.py", "import threading", "common imports impure threading"),
        ("common/x.py", "from tkinter import ttk", "common imports impure tkinter"),
        ("common/x.py", "import pymysql", "common imports impure pymysql"),
        ("common/x.py", "import selectors", "common imports impure selectors"),
        ("common/x.py", "import asyncio.events", "common imports impure asyncio"),
        ("common/x.py", "import numpy", "common imports non-stdlib numpy"),
        ("common/x.py", "from server.store import Store", "common imports non-stdlib server"),
        ("common/x.py", "from ..client import app", "common imports non-stdlib client"),
        ("common/x.py", "import importlib\nimportlib.import_module('socket')",
         "common imports impure socket"),
        ("common/x.py", "import logging\nlogging.basicConfig(level=10)",
         "common sets up logging (basicConfig)"),
        ("common/x.py", "from logging import basicConfig\nbasicConfig()",
         "common sets up logging (basicConfig)"),
        ("common/x.py", "import logging.config", "common sets up logging (logging.config)"),
        ("server/x.py", "import tkinter", "server imports tkinter"),
        ("server/x.py", "from client.session import Session", "server imports client"),
        ("server/x.py", "from ..client import app", "server imports client"),
        ("client/x.py", "from server import store", "client imports server"),
        ("client/ui/chat.py", "from ...server import hub", "client imports server"),
        ("client/x.py", "import pymysql", "client imports pymysql"),
        ("client/x.py", "import pymysql", "pymysql outside store.py/provision.py"),
        ("server/service.py", "import config", CONFIG_RULE),
        ("server/service.py", "from config import Settings", CONFIG_RULE),
        ("client/app.py", "import config.sub", CONFIG_RULE),
        ("common/x.py", "import config", CONFIG_RULE),
        ("server/hub.py", "import pymysql", "pymysql outside store.py/provision.py"),
        ("server/service.py", "from argon2 import PasswordHasher", "argon2 outside passwords.py"),
        ("server/service.py", "import socket", "socket outside listener.py/session.py"),
        ("client/ui/chat.py", "from common import crypto", "ui imports common.crypto"),
        ("client/ui/login.py", "from Crypto.PublicKey import RSA", "ui imports Crypto"),
        ("client/ui/login.py", "import cryptography", "ui imports cryptography"),
    ],
)
def test_the_rule_engine_catches_breaches(relative: str, source: str, expected: str) -> None:
    assert expected in violations(relative, source)


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("common/x.py", "from __future__ import annotations\nimport hashlib, struct, enum"),
        ("common/x.py", "from Crypto.Cipher import AES\nfrom common.errors import ChatError"),
        ("common/x.py", "from cryptography.hazmat.primitives.ciphers.aead import AESGCM"),
        ("common/x.py", "from .framing import F\nimport logging\nlog = logging.getLogger()"),
        ("server/__main__.py", "from config import Settings"),
        ("client/__main__.py", "try:\n    import config\nexcept ImportError:\n    config = None"),
        ("server/store.py", "import pymysql"),
        ("server/provision.py", "import pymysql"),
        ("server/passwords.py", "from argon2 import PasswordHasher"),
        ("server/listener.py", "import socket, threading"),
        ("client/session.py", "import socket, threading\nfrom common.connection import Connection"),
        ("client/ui/chat.py", "import tkinter as tk\nfrom ..formatting import clock"),
    ],
)
def test_the_rule_engine_allows_what_the_design_allows(relative: str, source: str) -> None:
    assert violations(relative, source) == []


def test_relative_imports_resolve_against_the_module() -> None:
    tree = ast.parse("from . import errors\nfrom ..server import hub\nfrom .x import y")
    names = imports_of("client/ui/chat.py", tree)
    assert {"client.ui", "client.ui.errors", "client.server", "client.ui.x.y"} <= names
    assert imports_of("common/framing.py", ast.parse("from .errors import E")) >= {
        "common.errors"
    }
