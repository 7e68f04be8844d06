"""Settings from CHAT_* variables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from config import REPO, Settings
from server.options import ServerOptions


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.max_text, s.max_frame) == ("127.0.0.1", 8090, 4000, 65_536)
    assert s.handshake_timeout == 10.0 and s.db_name == "chat"


def test_overrides_by_type(tmp_path: Path) -> None:
    s = Settings.from_env(
        {"CHAT_PORT": "9000", "CHAT_MSG_RATE": "2.5", "CHAT_KEY_DIR": str(tmp_path),
         "CHAT_HOST": "0.0.0.0"}
    )
    assert s.port == 9000 and s.msg_rate == 2.5 and s.key_dir == tmp_path and s.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("name", "value"),
    [("CHAT_PORT", "eighty"), ("CHAT_PORT", "70000"), ("CHAT_MAX_FRAME", "70000"),
     ("CHAT_MAX_TEXT", "0"), ("CHAT_IDLE_TIMEOUT", "0"), ("CHAT_MSG_RATE", "-1"),
     ("CHAT_DB_TIMEOUT", "soon"), ("CHAT_LOG_LEVEL", "LOUD")],
)
def test_bad_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_database_password_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = Settings.from_env({"CHAT_DB_PASSWORD_FILE": str(secret)})
    assert s.database_password() == "s3cret"
    assert "s3cret" not in repr(Settings.from_env({"CHAT_DB_PASSWORD": "s3cret"}))
    with pytest.raises(RuntimeError, match="CHAT_DB_PASSWORD"):
        Settings.from_env({"CHAT_DB_PASSWORD_FILE": str(tmp_path / "none")}).database_password()


def test_run_dir_moves_socket_and_password_file_unless_they_are_set(tmp_path: Path) -> None:
    s = Settings.from_env({"CHAT_RUN_DIR": str(tmp_path)})
    assert s.db_socket == tmp_path / "mariadb" / "mysqld.sock"  # where scripts/db.sh puts it
    assert s.db_password_file == tmp_path / "db_password"
    s = Settings.from_env({"CHAT_RUN_DIR": str(tmp_path), "CHAT_DB_SOCKET": "/x.sock"})
    assert s.db_socket == Path("/x.sock")


def test_every_server_option_is_a_variable_and_reaches_the_server() -> None:
    env = {"CHAT_COMMIT_BATCH": "9", "CHAT_LOGIN_RATE": "0.5", "CHAT_ARGON2_WORKERS": "3"}
    options = Settings.from_env(env).server_options()
    assert type(options) is ServerOptions
    assert (options.commit_batch, options.login_rate, options.argon2_workers) == (9, 0.5, 3)
    assert Settings.from_env({}).server_options() == ServerOptions()  # one set of defaults


def test_the_readme_lists_every_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [
        f"CHAT_{f.name.upper()}"
        for f in dataclasses.fields(Settings)
        if f"`CHAT_{f.name.upper()}`" not in readme
    ]
    assert missing == []
