"""The look: ttk's built-in ``clam`` theme recoloured, and fonts that exist on Linux.

Why ``clam`` and not ``sv-ttk``: clam ships with Tk, draws flat widgets that take colours from
``ttk.Style`` (so the palette below is all it takes to look current), and costs no dependency.
sv-ttk (Sun Valley, 2.6.1) looks good on Windows, but it hard-codes the Segoe UI Variable
fonts, which Linux does not have (fontconfig then substitutes with other metrics), it themes
only ttk widgets while our message view and input box are ``tk.Text`` that need our colours
anyway, and it adds a package and ~50 KB of sprites to pin and audit for a cosmetic gain.

Fonts: Tk on X11 draws through Xft/fontconfig, which falls back per character to a font that
has the glyph, so DejaVu/Noto Sans for Latin text plus ``fonts-wqy-microhei`` installed is
enough for Chinese, and ``fonts-noto-color-emoji`` for emoji.
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


@dataclass(frozen=True)
class Palette:
    """Colours used by both ttk styles and the ``tk.Text`` widgets."""

    window: str = "#f3f4f6"
    surface: str = "#ffffff"
    sidebar: str = "#eceff3"
    border: str = "#d4d8de"
    text: str = "#1f2328"
    muted: str = "#6b7280"
    accent: str = "#2563eb"
    accent_active: str = "#1d4ed8"
    accent_soft: str = "#dbe6fd"
    own_band: str = "#eef3fe"
    danger: str = "#b91c1c"
    ok: str = "#15803d"
    busy: str = "#b45309"
    other_sender: str = "#0f766e"
    scroll_thumb: str = "#e3e6ea"
    code_background: str = "#f6f8fa"  # code: ``text`` 14.8:1, ``muted`` (pending) 4.5:1


PALETTE = Palette()


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
    """Create the named fonts once per Tk interpreter (several windows share them)."""
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


def setup_style(root: tk.Misc, palette: Palette = PALETTE) -> ttk.Style:
    """Switch to ``clam`` and recolour it. Safe to call again for a second window."""
    style = ttk.Style(root)
    style.theme_use("clam")
    p = palette
    style.configure(
        ".", background=p.window, foreground=p.text, bordercolor=p.border, lightcolor=p.window,
        darkcolor=p.window, troughcolor=p.window, focuscolor=p.accent,
        selectbackground=p.accent_soft, selectforeground=p.text, insertcolor=p.text,
        font="TkDefaultFont",
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
    style.configure("TButton", padding=(12, 5), background=p.surface, bordercolor=p.border,
                    lightcolor=p.surface, darkcolor=p.surface)
    style.map("TButton", background=[("pressed", p.sidebar), ("active", p.sidebar)])
    style.configure("Accent.TButton", background=p.accent, foreground="#ffffff",
                    bordercolor=p.accent, lightcolor=p.accent, darkcolor=p.accent,
                    font="ChatBold")
    style.map("Accent.TButton",
              background=[("disabled", p.border), ("pressed", p.accent_active),
                          ("active", p.accent_active)],
              foreground=[("disabled", p.muted)],
              bordercolor=[("disabled", p.border)],
              lightcolor=[("disabled", p.border), ("active", p.accent_active)],
              darkcolor=[("disabled", p.border), ("active", p.accent_active)])
    style.configure("TEntry", padding=(8, 5), fieldbackground=p.surface, bordercolor=p.border,
                    lightcolor=p.surface, darkcolor=p.surface)
    style.map("TEntry", bordercolor=[("focus", p.accent)], lightcolor=[("focus", p.accent)])
    style.configure("Treeview", background=p.sidebar, fieldbackground=p.sidebar,
                    foreground=p.text, borderwidth=0, rowheight=28, font="ChatBody")
    style.map("Treeview", background=[("selected", p.accent_soft)],
              foreground=[("selected", p.text)])
    style.layout("Treeview", [("Treeview.treearea", {"sticky": "nswe"})])
    style.configure("TPanedwindow", background=p.border)
    style.configure("Sash", sashthickness=3, gripcount=0, background=p.border,
                    lightcolor=p.border, bordercolor=p.border)
    thumb = ("Vertical.Scrollbar.thumb", {"expand": "1", "sticky": "nswe"})
    trough = ("Vertical.Scrollbar.trough", {"sticky": "ns", "children": [thumb]})
    style.layout("Vertical.TScrollbar", [trough])  # type: ignore[list-item]  # no arrows
    style.configure("Vertical.TScrollbar", background=p.scroll_thumb, troughcolor=p.surface,
                    bordercolor=p.surface, lightcolor=p.scroll_thumb, darkcolor=p.scroll_thumb,
                    gripcount=0, arrowsize=9)
    style.map("Vertical.TScrollbar", background=[("active", p.border)],
              lightcolor=[("active", p.border)], darkcolor=[("active", p.border)])
    style.configure("Horizontal.TProgressbar", background=p.accent, troughcolor=p.sidebar,
                    bordercolor=p.sidebar, lightcolor=p.accent, darkcolor=p.accent)
    return style
