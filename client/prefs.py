"""The person's display preferences: the theme, where the chat window was and the muted
conversations, kept across logouts and restarts in ``prefs.json`` beside ``known_servers``
(``client.trust.config_dir``; 0600, written atomically).

Only looks live here, nothing secret and nothing the connection depends on; a missing,
unreadable or malformed file gives the defaults (and a log line), never an error.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PREFS_FILE = "prefs.json"
THEMES = ("light", "dark")
GEOMETRY = re.compile(r"^(\d{2,5})x(\d{2,5})([+-]-?\d{1,5})([+-]-?\d{1,5})$")
"""What ``wm geometry`` reports: ``WxH+X+Y`` (an offset may be negative: ``+-12``)."""


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically with mode 0600 in a 0700 directory (as ``client.trust`` does;
    repeated here so the widgets' side imports nothing of the key handling)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Preferences:
    """What is remembered; every field has a default that a fresh install shows."""

    theme: str = "light"
    chat_geometry: str = ""  # ``WxH+X+Y`` of the chat window when it last closed
    muted: tuple[str, ...] = ()  # conversations (``lobby``, ``@user2``) that never notify


class PrefsFile:
    """``prefs.json`` in ``directory``; ``None`` keeps them in memory only (tests, demos)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.current = self._load()

    @property
    def path(self) -> Path | None:
        return self.directory / PREFS_FILE if self.directory is not None else None

    def _load(self) -> Preferences:
        path = self.path
        if path is None or not path.exists():
            return Preferences()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable preferences %s: %s", path, exc)
            return Preferences()
        if not isinstance(data, dict):
            logger.warning("ignoring preferences %s: not a JSON object", path)
            return Preferences()
        theme = data.get("theme")
        geometry = data.get("chat_geometry")
        muted = data.get("muted")
        return Preferences(
            theme=theme if theme in THEMES else "light",
            chat_geometry=geometry if isinstance(geometry, str) and GEOMETRY.match(geometry)
            else "",
            muted=tuple(sorted({key for key in muted if isinstance(key, str) and key}))
            if isinstance(muted, list) else (),
        )

    def update(self, **changes: Any) -> None:
        """Change some fields and write the file (when there is one)."""
        updated = replace(self.current, **changes)
        if updated == self.current:
            return
        self.current = updated
        path = self.path
        if path is None:
            return
        try:
            write_private(path, json.dumps(asdict(updated), indent=1).encode("utf-8"))
        except OSError as exc:  # a read-only home must not break the window
            logger.warning("could not save preferences to %s: %s", path, exc)
