"""The end-to-end shots of ``scripts/screenshots.py``: the safety number and a key change.

``safety-number.png``: user1's direct conversation with user2 and its verify dialog (the
60-digit safety number, "Mark as verified"). ``key-change.png``: after user1 marked user2
verified, user2's account gets a new key set (as an administrator's password reset does:
published with ``0040``, announced to everyone online with ``1041``); user1's conversation
shows the warning line, the lock marker says the key changed, and a message typed since is
held, not sealed for the new key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from client.ui.verify_dialog import VerifyDialog
from common.e2e import to_field
from common.identity import Identity, seal_backup
from common.messages_e2e import PublishKeysRequest
from tests.integration.gui.harness import ClientWindow

HELD = "Did you reset your password? Check the new number with me first."


def e2e_shots(
    me: ClientWindow, bob: ClientWindow, out: Path, size: tuple[int, int],
    capture: Callable[[Path], None], settle: Callable[[ClientWindow, float], None],
) -> None:
    """Capture both shots in ``me``'s window (``size`` at the top left of the screen)."""
    me.app.select_conversation("@user2")
    me.wait(lambda: me.app.e2e is not None and me.app.e2e.keyring.ready, "user1's keys")
    me.app.open_verify()
    me.wait(lambda: any(isinstance(d, VerifyDialog) and d.winfo_exists()
                        for d in me.view.dialogs), "the verify dialog")
    dialog = next(d for d in me.view.dialogs if isinstance(d, VerifyDialog) and d.winfo_exists())
    dialog.geometry(f"+{(size[0] - dialog.winfo_width()) // 2}+{size[1] // 5}")
    settle(me, 0.6)
    capture(out / "safety-number.png")
    assert dialog.verified_button is not None
    dialog.verified_button.invoke()
    settle(me, 0.3)

    reset = Identity.generate()  # user2's account after an administrator's reset
    assert bob.app.master_key is not None  # sealed as user2's window would after a reset
    backup = seal_backup(reset, "user2", bob.app.master_key)
    bob.app.link.send(PublishKeysRequest(to_field(reset.public.to_bytes()), to_field(backup)))
    me.wait(lambda: "since you verified them" in me.transcript(), "the key-change warning")
    me.send(HELD)
    me.wait(lambda: "held: check their new key" in me.transcript(), "the held message")
    for opened in me.view.dialogs:
        if isinstance(opened, VerifyDialog) and opened.winfo_exists():
            opened.close()
    settle(me, 0.6)
    capture(out / "key-change.png")
    assert me.app.traffic is not None
    me.app.traffic.discard_unsent()  # the held message is the picture's, not for later
