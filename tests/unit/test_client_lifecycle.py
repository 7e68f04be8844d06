"""The window's phases: only the moves in the table, and a wrong move raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from Crypto.PublicKey import RSA

from client.lifecycle import TRANSITIONS, IllegalTransition, Lifecycle, Phase
from tests.unit.client_fakes import Harness


def test_a_move_outside_the_table_raises_and_keeps_the_phase() -> None:
    life = Lifecycle()
    with pytest.raises(IllegalTransition, match="cannot logged in in phase login"):
        life.move("logged in")
    assert life.phase is Phase.LOGIN
    assert life.move("submit login") is Phase.TRUST
    with pytest.raises(IllegalTransition):
        life.move("reconnect")  # only a waiting window reconnects


def test_closed_is_final_and_every_phase_is_reachable() -> None:
    assert {target for (source, _), target in TRANSITIONS.items()} == set(Phase)
    assert all(target is Phase.CLOSED for (source, _), target in TRANSITIONS.items()
               if source is Phase.CLOSED)
    life = Lifecycle()
    life.move("quit")
    with pytest.raises(IllegalTransition):
        life.move("log out")


def test_the_controller_walks_the_table(tmp_path: Path) -> None:
    h = Harness(tmp_path, RSA.generate(1024))
    seen = []
    original = h.app.lifecycle.move

    def record(step: str) -> Phase:
        seen.append(step)
        return original(step)

    h.app.lifecycle.move = record  # type: ignore[method-assign]
    h.online()
    h.session.drop()
    h.pump()
    h.app.quit()
    assert seen == ["submit login", "key ready", "handshake done", "logged in",
                    "wait to reconnect", "quit"]
    assert h.app.phase == "closed"  # a StrEnum: still reads as the word
