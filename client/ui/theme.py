"""The look: ttk's built-in ``clam`` theme recoloured, two palettes, and sizes from the fonts.

Why ``clam`` and not ``sv-ttk``: clam ships with Tk, draws flat widgets that take colours from
``ttk.Style`` (so the palette below is all it takes to look current), and costs no dependency.
sv-ttk (Sun Valley, 2.6.1) looks good on Windows, but it hard-codes the Segoe UI Variable
fonts, which Linux does not have (fontconfig then substitutes with other metrics), it themes
only ttk widgets while our message view and input box are ``tk.Text`` that need our colours
anyway, and it adds a package and ~50 KB of sprites to pin and audit for a cosmetic gain.

Fonts: Tk on X11 draws through Xft/fontconfig, which falls back per character to a font that
has the glyph, so DejaVu/Noto Sans for Latin text plus ``fonts-wqy-microhei`` installed is
enough for Chinese, and ``fonts-noto-color-emoji`` for emoji.

Sizes: fonts are given in points, so Tk scales them with ``tk scaling`` (the screen's DPI, or
what the person set); every other size (paddings, row heights, window sizes) is derived from
the fonts' metrics or multiplied by ``ui_scale``, never a fixed pixel count, so a HiDPI screen
gets a window that fits its text instead of clipped labels and overlapping rows.

Colours: both palettes meet WCAG 2.x, 4.5:1 for text and 3:1 for the parts of a control that
identify it (borders, the selected row, the focus ring, the scrollbar thumb);
``tests/unit/test_client_theme.py`` computes every pair with ``contrast_ratio``.
"""

from __future__ import annotations

import logging
import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass
from tkinter import ttk
from typing import Literal

logger = logging.getLogger(__name__)

UI_FAMILIES = ("Noto Sans", "DejaVu Sans", "Liberation Sans", "Nimbus Sans", "Helvetica")
MONO_FAMILIES = ("DejaVu Sans Mono", "Noto Sans Mono", "Liberation Mono", "Nimbus Mono PS",
                 "Courier New", "Courier")
CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Droid Sans Fallback")

ThemeName = Literal["light", "dark"]


@dataclass(frozen=True)
class Palette:
    """Colours used by both ttk styles and the ``tk.Text`` widgets.

    ``border`` only separates areas (decoration, no contrast needed); ``control_border`` outlines
    something one can type in or drag, so it must stand out 3:1 from what surrounds it.
    """

    name: ThemeName = "light"
    window: str = "#f3f4f6"
    surface: str = "#ffffff"
    sidebar: str = "#eceff3"
    border: str = "#d4d8de"
    control_border: str = "#7b8491"
    text: str = "#1f2328"
    muted: str = "#525a66"
    accent: str = "#2563eb"
    accent_active: str = "#1d4ed8"
    on_accent: str = "#ffffff"
    selection: str = "#bcd0fb"
    selected_row: str = "#2563eb"
    selected_text: str = "#ffffff"
    own_band: str = "#eef3fe"
    own_stripe: str = "#2563eb"
    other_stripe: str = "#7b8491"
    danger: str = "#b91c1c"
    ok: str = "#15803d"
    busy: str = "#9a4a06"
    other_sender: str = "#0f766e"
    scroll_thumb: str = "#7b8491"
    code_background: str = "#f6f8fa"
    focus: str = "#2563eb"
    match: str = "#fde68a"
    match_current: str = "#f59e0b"
    mention_row: str = "#fde9b8"  # a conversation whose unread messages name the person


LIGHT = Palette()
DARK = Palette(
    name="dark", window="#1b1f24", surface="#111418", sidebar="#22272e", border="#353b44",
    control_border="#7d8794", text="#e6e9ee", muted="#a3acb9", accent="#6ea8fe",
    accent_active="#8fbcff", on_accent="#0b1220", selection="#264f8f", selected_row="#6ea8fe",
    selected_text="#0b1220", own_band="#18212e", own_stripe="#6ea8fe", other_stripe="#7d8794",
    danger="#ff8a8a", ok="#4ade80", busy="#fbbf24", other_sender="#2dd4bf",
    scroll_thumb="#7d8794", code_background="#1f242b", focus="#6ea8fe", match="#7a5c00",
    match_current="#9a3412", mention_row="#5c4305",
)
PALETTES: dict[str, Palette] = {"light": LIGHT, "dark": DARK}
PALETTE = LIGHT
"""The light palette (what a fresh install shows); widgets take the current one from
``palette_of``."""


def palette_of(widget: tk.Misc) -> Palette:
    """The palette the widget's window was last styled with (``setup_style``)."""
    return _CURRENT.get(str(widget.tk), LIGHT)


_CURRENT: dict[str, Palette] = {}


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` colour."""
    channels = []
    for i in (1, 3, 5):
        c = int(colour[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio (1 to 21); body text needs 4.5 (AA), 7 for AAA."""
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)),
                             reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class Fonts:
    """Named Tk fonts, so every widget scales together."""

    body: str = "ChatBody"
    bold: str = "ChatBold"
    small: str = "ChatSmall"
    title: str = "ChatTitle"
    heading: str = "ChatHeading"
    mono: str = "ChatMono"
    cjk_family: str | None = None


def _first_family(root: tk.Misc, wanted: tuple[str, ...]) -> str | None:
    available = {name.casefold(): name for name in tkfont.families(root)}
    for family in wanted:
        if family.casefold() in available:
            return available[family.casefold()]
    return None


_KEEP: dict[tuple[str, str], tkfont.Font] = {}
"""tkinter deletes a named font when its Font object is collected: keep ours alive."""


def _named(root: tk.Misc, name: str, family: str, size: int, bold: bool = False) -> None:
    weight: Literal["normal", "bold"] = "bold" if bold else "normal"
    if name in tkfont.names(root):
        tkfont.nametofont(name, root=root).configure(family=family, size=size, weight=weight)
    else:
        font = tkfont.Font(root=root, name=name, family=family, size=size, weight=weight)
        _KEEP[(str(root.tk), name)] = font


def setup_fonts(root: tk.Misc) -> Fonts:
    """Create the named fonts once per Tk interpreter (several windows share them).

    Configuring them again after a change of ``tk scaling`` re-measures them at the new size.
    """
    default = tkfont.nametofont("TkDefaultFont", root=root).actual("family")
    family = _first_family(root, UI_FAMILIES) or default
    cjk = _first_family(root, CJK_FAMILIES)
    if cjk is None:
        logger.warning("no CJK font found; install fonts-wqy-microhei to read Chinese text")
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont"):
        tkfont.nametofont(name, root=root).configure(family=family, size=10)
    _named(root, "ChatBody", family, 11)
    _named(root, "ChatBold", family, 10, bold=True)
    _named(root, "ChatSmall", family, 9)
    _named(root, "ChatTitle", family, 14, bold=True)
    _named(root, "ChatHeading", family, 9, bold=True)
    mono = _first_family(root, MONO_FAMILIES) or tkfont.nametofont(
        "TkFixedFont", root=root).actual("family")
    _named(root, "ChatMono", mono, 10)
    return Fonts(cjk_family=cjk)


BASE_SCALING = 96 / 72
"""``tk scaling`` (pixels per point) of a 96 DPI screen: the size every pixel count below is for."""


def ui_scale(widget: tk.Misc) -> float:
    """How much bigger than a 96 DPI screen this one draws (``tk scaling`` / 96 DPI's)."""
    scaling = float(widget.tk.call("tk", "scaling"))
    return max(0.75, scaling / BASE_SCALING)


def px(widget: tk.Misc, pixels: float) -> int:
    """``pixels`` at 96 DPI, in this screen's pixels."""
    return max(0, round(pixels * ui_scale(widget)))


def linespace(widget: tk.Misc, font: str = "ChatBody") -> int:
    """The height of one line of ``font``: rows and boxes are sized from it."""
    return int(tkfont.nametofont(font, root=widget).metrics("linespace"))


def char_width(widget: tk.Misc, font: str = "ChatBody") -> int:
    """The width of one average character of ``font`` (the ``0`` digit, as CSS's ``ch``)."""
    return int(tkfont.nametofont(font, root=widget).measure("0"))


def setup_style(root: tk.Misc, palette: Palette = LIGHT) -> ttk.Style:
    """Switch to ``clam`` and recolour it. Safe to call again (a second window, a theme
    switch, a change of ``tk scaling``): ttk restyles every widget that uses the styles."""
    _CURRENT[str(root.tk)] = palette
    style = ttk.Style(root)
    style.theme_use("clam")
    p = palette

    def s(pixels: float) -> int:
        return px(root, pixels)

    style.configure(
        ".", background=p.window, foreground=p.text, bordercolor=p.control_border,
        lightcolor=p.window, darkcolor=p.window, troughcolor=p.window, focuscolor=p.focus,
        selectbackground=p.selection, selectforeground=p.text, insertcolor=p.text,
        fieldbackground=p.surface, font="TkDefaultFont",
    )
    style.configure("TFrame", background=p.window)
    style.configure("Surface.TFrame", background=p.surface)
    style.configure("Sidebar.TFrame", background=p.sidebar)
    style.configure("Card.TFrame", background=p.surface, bordercolor=p.border, relief="solid",
                    borderwidth=1)
    style.configure("TLabel", background=p.window, foreground=p.text)
    for name, background in (("Surface", p.surface), ("Sidebar", p.sidebar), ("Card", p.surface)):
        style.configure(f"{name}.TLabel", background=background, foreground=p.text)
        style.configure(f"{name}Muted.TLabel", background=background, foreground=p.muted,
                        font="ChatSmall")
    style.configure("Heading.TLabel", background=p.sidebar, foreground=p.muted, font="ChatHeading")
    style.configure("Title.TLabel", background=p.window, foreground=p.text, font="ChatTitle")
    style.configure("CardTitle.TLabel", background=p.surface, foreground=p.text, font="ChatTitle")
    style.configure("Error.TLabel", background=p.surface, foreground=p.danger)
    style.configure("Status.TLabel", background=p.window, foreground=p.muted, font="ChatSmall")
    style.configure("Counter.TLabel", background=p.window, foreground=p.muted, font="ChatSmall")
    style.configure("Over.Counter.TLabel", foreground=p.danger)
    style.configure("TButton", padding=(s(12), s(5)), background=p.surface, foreground=p.text,
                    bordercolor=p.control_border, lightcolor=p.surface, darkcolor=p.surface,
                    focuscolor=p.focus, focusthickness=max(1, s(2)),
                    width=-6)  # as wide as the text (at least 6 characters), not 11
    # the chat header holds five buttons and the window's title at the minimum size, at 2x too
    style.configure("Header.TButton", padding=(s(7), s(4)))
    style.map("TButton", background=[("pressed", p.sidebar), ("active", p.sidebar)],
              bordercolor=[("focus", p.focus)])
    style.configure("Accent.TButton", background=p.accent, foreground=p.on_accent,
                    bordercolor=p.accent, lightcolor=p.accent, darkcolor=p.accent,
                    focuscolor=p.on_accent, font="ChatBold")
    style.map("Accent.TButton",
              background=[("disabled", p.border), ("pressed", p.accent_active),
                          ("active", p.accent_active)],
              foreground=[("disabled", p.muted)],
              bordercolor=[("disabled", p.border), ("focus", p.text)],
              lightcolor=[("disabled", p.border), ("active", p.accent_active)],
              darkcolor=[("disabled", p.border), ("active", p.accent_active)])
    style.configure("TEntry", padding=(s(8), s(5)), fieldbackground=p.surface, foreground=p.text,
                    bordercolor=p.control_border, lightcolor=p.surface, darkcolor=p.surface)
    style.map("TEntry", bordercolor=[("focus", p.focus)], lightcolor=[("focus", p.focus)],
              darkcolor=[("focus", p.focus)], fieldbackground=[("readonly", p.surface)])
    style.configure("TCheckbutton", background=p.window, foreground=p.text,
                    indicatorbackground=p.surface, indicatorforeground=p.text,
                    focuscolor=p.focus, upperbordercolor=p.control_border,
                    lowerbordercolor=p.control_border)
    style.map("TCheckbutton", background=[("active", p.window)])
    row = linespace(root) + s(10)
    style.configure("Treeview", background=p.sidebar, fieldbackground=p.sidebar,
                    foreground=p.text, bordercolor=p.sidebar, lightcolor=p.sidebar,
                    darkcolor=p.sidebar, borderwidth=max(1, s(2)), rowheight=row,
                    font="ChatBody")
    style.map("Treeview", background=[("selected", p.selected_row)],
              foreground=[("selected", p.selected_text)],
              bordercolor=[("focus", p.focus)], lightcolor=[("focus", p.focus)],
              darkcolor=[("focus", p.focus)])
    # a field around the rows: its border turns to the focus colour when the list has focus
    style.layout("Treeview", [("Treeview.field", {"sticky": "nswe", "border": "1", "children": [
        ("Treeview.padding", {"sticky": "nswe", "children": [
            ("Treeview.treearea", {"sticky": "nswe"})]})]})])  # type: ignore[list-item]
    style.configure("TPanedwindow", background=p.border)
    style.configure("Sash", sashthickness=max(3, s(3)), gripcount=0, background=p.border,
                    lightcolor=p.border, bordercolor=p.border)
    thumb = ("Vertical.Scrollbar.thumb", {"expand": "1", "sticky": "nswe"})
    trough = ("Vertical.Scrollbar.trough", {"sticky": "ns", "children": [thumb]})
    style.layout("Vertical.TScrollbar", [trough])  # type: ignore[list-item]  # no arrows
    style.configure("Vertical.TScrollbar", background=p.scroll_thumb, troughcolor=p.surface,
                    bordercolor=p.surface, lightcolor=p.scroll_thumb, darkcolor=p.scroll_thumb,
                    gripcount=0, arrowsize=max(9, s(10)))
    style.map("Vertical.TScrollbar", background=[("active", p.control_border)],
              lightcolor=[("active", p.control_border)], darkcolor=[("active", p.control_border)])
    style.configure("Horizontal.TProgressbar", background=p.accent, troughcolor=p.sidebar,
                    bordercolor=p.sidebar, lightcolor=p.accent, darkcolor=p.accent)
    return style
