"""Both palettes meet WCAG 2.x: 4.5:1 for text, 3:1 for what identifies a control; and the
preferences file (theme, window place) is private, survives a restart and shrugs off junk."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from client.prefs import PREFS_FILE, PrefsFile
from client.trust import config_dir
from client.ui.theme import DARK, LIGHT, PALETTES, Palette, contrast_ratio

TEXT_PAIRS = (  # (foreground, background): text a person reads
    ("text", "window"), ("text", "surface"), ("text", "sidebar"), ("text", "own_band"),
    ("text", "code_background"), ("text", "selection"), ("text", "match"),
    ("text", "match_current"), ("text", "mention_row"),
    ("muted", "window"), ("muted", "surface"), ("muted", "sidebar"), ("muted", "own_band"),
    ("muted", "code_background"),
    ("selected_text", "selected_row"), ("on_accent", "accent"), ("on_accent", "accent_active"),
    ("danger", "surface"), ("danger", "window"), ("ok", "window"), ("busy", "window"),
    ("other_sender", "surface"), ("accent", "surface"), ("accent", "own_band"),
)
CONTROL_PAIRS = (  # (part, what surrounds it): borders, the selected row, focus, the scrollbar
    ("control_border", "surface"), ("control_border", "window"),
    ("selected_row", "sidebar"), ("own_stripe", "surface"), ("own_stripe", "own_band"),
    ("other_stripe", "surface"), ("scroll_thumb", "surface"),
    ("focus", "surface"), ("focus", "window"), ("focus", "sidebar"),
    ("ok", "window"), ("busy", "window"), ("danger", "window"),
)


@pytest.mark.parametrize("palette", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize(("pairs", "needed"), [(TEXT_PAIRS, 4.5), (CONTROL_PAIRS, 3.0)],
                         ids=["text", "controls"])
def test_every_pair_meets_wcag(
    palette: Palette, pairs: tuple[tuple[str, str], ...], needed: float
) -> None:
    failing = {
        f"{front} on {back}": round(ratio, 2)
        for front, back in pairs
        if (ratio := contrast_ratio(getattr(palette, front), getattr(palette, back))) < needed
    }
    assert not failing, f"{palette.name}: below {needed}:1: {failing}"


def test_the_old_light_colours_fail_the_check() -> None:
    """The check can fail: the colours the light theme had before measured 1.09 to 4.2."""
    assert contrast_ratio("#dbe6fd", "#eceff3") < 3  # the selected conversation row
    assert contrast_ratio("#6b7280", "#f3f4f6") < 4.5  # small grey text


def test_both_themes_are_offered_and_differ() -> None:
    assert set(PALETTES) == {"light", "dark"}
    assert contrast_ratio(DARK.surface, LIGHT.surface) > 10  # dark really is dark


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    directory = config_dir()
    assert directory.is_relative_to(tmp_path)
    return directory


def test_preferences_survive_a_restart_in_a_private_file(xdg: Path) -> None:
    prefs = PrefsFile(xdg)
    assert prefs.current.theme == "light" and prefs.current.chat_geometry == ""
    prefs.update(theme="dark", chat_geometry="1000x700+40+30")
    path = xdg / PREFS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(xdg.stat().st_mode) == 0o700
    again = PrefsFile(xdg)
    assert again.current.theme == "dark" and again.current.chat_geometry == "1000x700+40+30"


@pytest.mark.parametrize("content", [
    "not json", "[1, 2]", json.dumps({"theme": "neon", "chat_geometry": "huge"}),
    json.dumps({"theme": 3, "chat_geometry": "1x1+0+0; rm -rf /"}),
])
def test_junk_preferences_give_the_defaults(xdg: Path, content: str) -> None:
    xdg.mkdir(parents=True)
    (xdg / PREFS_FILE).write_text(content)
    prefs = PrefsFile(xdg)
    assert prefs.current.theme == "light" and prefs.current.chat_geometry == ""


def test_without_a_directory_nothing_is_written(tmp_path: Path) -> None:
    prefs = PrefsFile(None)
    prefs.update(theme="dark")
    assert prefs.current.theme == "dark" and not any(tmp_path.iterdir())
