"""What a new password must be, checked on the client before anything is sent (NIST SP 800-63B).

The server never sees a password (PROTOCOL.md §8), so it cannot judge one: the client does.
NIST SP 800-63B asks for at least 8 characters, no composition rules, and a check against
passwords that are common, expected or derived from the account; ``zxcvbn`` estimates how
many guesses a password takes (score 0-4, from dictionaries of common passwords, names and
keyboard patterns) and is told the username and nickname, so passwords built from them
score low. A score below 3 (about 10^8 guesses or fewer) is refused.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 8
MIN_SCORE = 3
JUDGED_LENGTH = 100  # zxcvbn's time grows fast with length; a longer password is long enough
STRENGTH_WORDS = ("very weak", "weak", "fair", "strong", "very strong")


def strength(password: str, username: str = "", nickname: str = "") -> tuple[int, str]:
    """zxcvbn's score (0-4) and its advice in one sentence (empty when it has none)."""
    if not password:
        return 0, ""
    inputs = [word for word in (username, nickname, "chat") if word]
    result = zxcvbn(password[:JUDGED_LENGTH], user_inputs=inputs)
    feedback = result.get("feedback", {})
    advice = feedback.get("warning") or " ".join(feedback.get("suggestions", []))
    return int(result["score"]), str(advice)


def password_problem(password: str, again: str, username: str, nickname: str = "") -> str | None:
    """Why this password may not be an account's (a sentence for the form), or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters for the password."
    if password != again:
        return "The two passwords differ."
    if username and username.lower() in password.lower():
        return "The password must not contain your username."
    score, advice = strength(password, username, nickname)
    if score < MIN_SCORE:
        tail = f" {advice}" if advice else " Try a few unrelated words."
        return f"This password is too easy to guess ({STRENGTH_WORDS[score]}).{tail}"
    return None
