"""The message view: a read-only ``tk.Text`` that paints ``formatting.Line`` items with tags.

A ``Text`` (not a canvas of labels) because it wraps long lines and URLs, selects and copies,
scrolls smoothly and stays fast with thousands of lines. Every entry's text carries a tag named
by its ``entry_id``, so a pending message can be restyled as sent in place and older history can
be painted above while the line the reader was looking at stays put.

Reading comfort: consecutive messages of one sender within ``GROUP_MINUTES`` share one header
(name and time once; an own message keeps its sent mark on a line of its own); a message longer
than ``COLLAPSE_LINES`` shows its first ``COLLAPSED_LINES`` and a "show more" toggle; the text
column is at most ``MAX_COLUMN_CHARS`` wide, centred, however wide the window; and a reader at
the newest message stays there when the window is resized.
"""

from __future__ import annotations

import functools
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from client.formatting import Line, code_spans
from client.ui.jump import LeftOff
from client.ui.theme import Fonts, Palette, char_width, palette_of, px

STATE_MARKS = {"pending": "  · sending…", "retrying": "  · retrying…", "sent": "  ✓",
               "held": "  · held: check their new key (Ctrl+I)",
               "waiting": "  · waiting for their encryption keys"}
UNSENT = ("pending", "retrying", "held", "waiting")
BODY_INDENT = 14
"""Pixels (at 96 DPI; more on a denser screen) every body line is indented past the headers,
over a coloured stripe: no line of a message can start where a header starts, so a body cannot
pass for another person's message."""
GROUP_MINUTES = 5
COLLAPSE_LINES = 25
COLLAPSED_LINES = 20
MAX_COLUMN_CHARS = 90
"""The widest the text column gets, in average characters of the body font (~90 reads well)."""

Group = tuple[str, str, bool, int]
"""(sender, handle, own, minute of the header's time): whose header the last message showed."""


def _minutes(clock: str) -> int | None:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes) if hours.isdigit() and minutes.isdigit() else None


class MessageView(ttk.Frame):
    """A scrollable read-only transcript; ``on_top()`` runs when the reader reaches the top."""

    def __init__(self, master: tk.Misc, fonts: Fonts, on_top: Callable[[], None]) -> None:
        super().__init__(master, style="Surface.TFrame")
        self._on_top = on_top
        self.fonts = fonts
        self.body_indent = max(BODY_INDENT, px(self, BODY_INDENT))
        self.padding = px(self, 18)
        self.text = tk.Text(
            self, wrap="word", state="disabled", relief="flat", borderwidth=0,
            highlightthickness=0, font=fonts.body, padx=self.padding, pady=px(self, 10),
            cursor="arrow", spacing1=1, spacing3=1, takefocus=False,
        )
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self._scrollbar_moved)
        self.text.configure(yscrollcommand=self.scrollbar.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self._group: Group | None = None
        self._long: dict[str, Line] = {}  # collapsible messages by entry id
        self._expanded: set[str] = set()
        self.following = True  # the reader is at the newest message
        self.left_off = LeftOff(self.text, self._note_position)
        self.on_newest: Callable[[], None] = lambda: None  # the reader reached the newest
        self.apply_palette(palette_of(self))
        t = self.text
        for sequence in ("<MouseWheel>", "<Button-4>", "<Prior>"):
            t.bind(sequence, self._maybe_top, add=True)
        for sequence in ("<Button-5>", "<Next>", "<End>", "<Home>"):
            t.bind(sequence, self._scrolled, add=True)
        t.bind("<Configure>", self._resized, add=True)

    def apply_palette(self, p: Palette) -> None:
        """Colour the text and every tag (at construction and when the theme changes)."""
        t, fonts, s = self.text, self.fonts, self.body_indent
        t.configure(background=p.surface, foreground=p.text, selectbackground=p.selection,
                    inactiveselectbackground=p.selection, selectforeground=p.text)
        t.tag_configure("day", justify="center", foreground=p.muted, font=fonts.bold,
                        spacing1=px(self, 14), spacing3=px(self, 6))
        t.tag_configure("system", justify="center", foreground=p.muted, font=fonts.small,
                        spacing1=px(self, 6), spacing3=px(self, 4))
        t.tag_configure("sender", foreground=p.other_sender, font=fonts.bold,
                        spacing1=px(self, 10))
        t.tag_configure("sender_own", foreground=p.accent, font=fonts.bold, spacing1=px(self, 10))
        t.tag_configure("handle", foreground=p.muted, font=fonts.small)
        t.tag_configure("time", foreground=p.muted, font=fonts.small)
        t.tag_configure("mark", foreground=p.muted, font=fonts.small)
        t.tag_configure("cont_mark", lmargin1=s, spacing1=px(self, 4))
        t.tag_configure("body", lmargin1=s, lmargin2=s, lmargincolor=p.other_stripe,
                        spacing3=px(self, 2))
        t.tag_configure("own_body", background=p.own_band, lmargin1=s, lmargin2=s,
                        lmargincolor=p.own_stripe)
        t.tag_configure("cont", spacing1=px(self, 4))
        # after the body tags, so its background wins over the own-message band
        t.tag_configure("code", font=fonts.mono, background=p.code_background,
                        foreground=p.text, spacing1=1, spacing3=1)
        t.tag_configure("pending", foreground=p.muted)
        t.tag_configure("toggle", foreground=p.accent, font=fonts.bold, underline=True,
                        lmargin1=s)
        t.tag_configure("match", background=p.match, foreground=p.text)
        t.tag_configure("match_current", background=p.match_current, foreground=p.text)
        for tag in ("pending", "match", "match_current"):
            t.tag_raise(tag)
        self.left_off.apply_palette(p)

    # --- painting ---------------------------------------------------------------------------

    def render(self, lines: Sequence[Line], anchor: str | None) -> None:
        """Repaint everything; keep ``anchor`` at the top, else show the newest line."""
        t = self.text
        t.configure(state="normal")
        t.delete("1.0", "end")
        self._group = None
        self.left_off.repainted()
        self._long = {eid: line for eid, line in self._long.items() if eid in self._expanded}
        for line in lines:
            self._insert(line)
        t.configure(state="disabled")
        ranges = t.tag_ranges(anchor) if anchor else ()
        if ranges:
            t.yview(ranges[0])
            self.following = False
        else:
            t.see("end")
            self.following = True

    def append(self, lines: Sequence[Line]) -> None:
        """Add at the bottom; follow only if the reader was already at the bottom (or sent it)."""
        t = self.text
        following = t.yview()[1] >= 0.999 or any(line.own for line in lines)
        t.configure(state="normal")
        if not following and lines and not all(line.own for line in lines):
            self.left_off.arrived_unseen()
            self._group = None  # the first message after the line shows its sender
        for line in lines:
            self._insert(line)
        t.configure(state="disabled")
        if following:
            t.see("end")
            self.following = True

    def restyle(self, line: Line) -> None:
        """Restyle one item in place: pending → sent (time from the server, a tick), or a
        presence line rewritten as more people join or leave."""
        t = self.text
        t.configure(state="normal")
        if line.kind == "system":
            self._replace(f"x-{line.entry_id}", f"{line.text} · {line.time}\n",
                          ("system", line.entry_id))
            t.configure(state="disabled")
            return
        eid = line.entry_id
        if line.time and not t.tag_ranges(f"t-{eid}"):  # acked: the server's time appears
            where = t.tag_ranges(f"s-{eid}")
            if where:
                t.insert(where[0], f"  {line.time}", ("time", eid, f"t-{eid}"))
        else:
            self._replace(f"t-{eid}", f"  {line.time}", ("time", eid))
        mark = STATE_MARKS.get(line.state, "")
        self._replace(f"s-{eid}", mark, ("mark", eid))
        if eid in self._long:
            self._long[eid] = line
        body = t.tag_ranges(f"b-{eid}")
        if body:
            (t.tag_add if line.state in UNSENT else t.tag_remove)("pending", body[0], body[1])
        t.configure(state="disabled")

    def _replace(self, tag: str, text: str, tags: tuple[str, ...]) -> None:
        ranges = self.text.tag_ranges(tag)
        if ranges and text:
            start = self.text.index(ranges[0])
            self.text.delete(ranges[0], ranges[1])
            self.text.insert(start, text, (*tags, tag))

    def _insert(self, line: Line) -> None:
        t, eid = self.text, line.entry_id
        if line.kind == "day":
            t.insert("end", f"{line.text}\n", ("day", eid))
            self._group = None
            return
        if line.kind == "system":
            t.insert("end", f"{line.text} · {line.time}\n", ("system", eid, f"x-{eid}"))
            self._group = None
            return
        minute = _minutes(line.time)
        group = self._group
        same = (group is not None and minute is not None
                and group[:3] == (line.sender, line.handle, line.own)
                and 0 <= minute - group[3] <= GROUP_MINUTES)
        if not same:
            self._group = (line.sender, line.handle, line.own, minute if minute is not None else -1)
            t.insert("end", line.sender, ("sender_own" if line.own else "sender", eid))
            if line.handle:
                t.insert("end", f" {line.handle}", ("handle", eid))
            if line.time:  # none while unacked: the server's time comes with the ack
                t.insert("end", f"  {line.time}", ("time", eid, f"t-{eid}"))
        if line.own:  # whether it reached the server matters for every message
            mark_tags = ("mark", eid, f"s-{eid}") + (() if not same else ("cont_mark",))
            t.insert("end", STATE_MARKS.get(line.state, "  ✓"), mark_tags)
        if not same or line.own:
            t.insert("end", "\n", (eid,))
        self._insert_body("end", line, first_of_group=not same)

    def _insert_body(self, index: str, line: Line, first_of_group: bool) -> None:
        """The body at ``index``: whole, or its first lines and a toggle when it is long."""
        t, eid = self.text, line.entry_id
        tags = ["body", eid, f"b-{eid}"]
        if line.own:
            tags.append("own_body")
        if line.state in UNSENT:
            tags.append("pending")
        text_lines = line.text.split("\n")
        collapsible = len(text_lines) > COLLAPSE_LINES
        shown = line.text
        if collapsible:
            self._long[eid] = line
            if eid not in self._expanded:
                shown = "\n".join(text_lines[:COLLAPSED_LINES])
        t.mark_set("chat_insert", index)
        t.mark_gravity("chat_insert", "right")
        spans = code_spans(shown) or [(shown, False)]
        for number, (text, code) in enumerate(spans):  # each run is whole lines
            extra = ("cont",) if number == 0 and not first_of_group and not line.own else ()
            run_tags = (*tags, *extra, "code") if code else (*tags, *extra)
            t.insert("chat_insert", f"{text}\n", run_tags)
        if collapsible:
            hidden = len(text_lines) - COLLAPSED_LINES
            label = ("Show less" if eid in self._expanded
                     else f"Show more ({hidden} more lines)")
            t.insert("chat_insert", f"{label}\n", ("toggle", eid, f"more-{eid}"))
            t.tag_bind(f"more-{eid}", "<Button-1>", functools.partial(self._toggle_clicked, eid))
            t.tag_bind(f"more-{eid}", "<Enter>", lambda _e: t.configure(cursor="hand2"))
            t.tag_bind(f"more-{eid}", "<Leave>", lambda _e: t.configure(cursor="arrow"))

    def _toggle_clicked(self, entry_id: str, _event: object = None) -> None:
        self.toggle(entry_id)

    def toggle(self, entry_id: str) -> None:
        """Show a long message whole, or collapse it again."""
        line = self._long.get(entry_id)
        t = self.text
        body, toggle = t.tag_ranges(f"b-{entry_id}"), t.tag_ranges(f"more-{entry_id}")
        if line is None or not body or not toggle:
            return
        self._expanded ^= {entry_id}
        first_of_group = "cont" not in t.tag_names(body[0])
        start = t.index(body[0])
        t.configure(state="normal")
        t.delete(start, toggle[1])
        self._insert_body(start, line, first_of_group)
        t.configure(state="disabled")

    # --- searching --------------------------------------------------------------------------

    def find(self, pattern: str) -> int:
        """Highlight every case-insensitive occurrence of ``pattern``; how many there are.
        Long messages that contain it are unfolded, so every match can be shown."""
        t = self.text
        self.clear_search()
        if not pattern:
            return 0
        for eid, line in list(self._long.items()):  # a match in a folded part unfolds it
            if eid not in self._expanded and pattern.casefold() in line.text.casefold():
                self.toggle(eid)
        count, index = 0, "1.0"
        length = tk.IntVar(self)
        while True:
            found = t.search(pattern, index, stopindex="end", nocase=True, count=length)
            if not found:
                break
            end = f"{found}+{max(1, length.get())}c"
            t.tag_add("match", found, end)
            index, count = end, count + 1
        return count

    def next_match(self, forward: bool = True) -> str | None:
        """Move to the next (or previous) highlighted match, wrapping; its index, or None."""
        t = self.text
        matches = t.tag_ranges("match")
        if not matches:
            return None
        starts = [t.index(matches[i]) for i in range(0, len(matches), 2)]
        current = t.tag_ranges("match_current")
        here = t.index(current[0]) if current else None
        t.tag_remove("match_current", "1.0", "end")
        if here is None:
            chosen = starts[-1] if forward else starts[0]  # the newest first: a chat reads up
        else:
            position = starts.index(here) if here in starts else 0
            chosen = starts[(position - 1 if forward else position + 1) % len(starts)]
        end = t.index(f"{chosen} + 1c")
        for i in range(0, len(matches), 2):
            if t.index(matches[i]) == chosen:
                end = t.index(matches[i + 1])
        t.tag_add("match_current", chosen, end)
        t.see(chosen)
        self.following = False
        return chosen

    def clear_search(self) -> None:
        self.text.tag_remove("match", "1.0", "end")
        self.text.tag_remove("match_current", "1.0", "end")

    # --- reading and resizing -----------------------------------------------------------------

    def plain_text(self) -> str:
        """Everything shown, as text (tests read what a person would see)."""
        return self.text.get("1.0", "end-1c")

    def column_width(self) -> int:
        """The widest the text column may be, in pixels."""
        return char_width(self, self.fonts.body) * MAX_COLUMN_CHARS + self.body_indent

    def _resized(self, event: tk.Event[tk.Text]) -> None:
        """Centre a capped column in a wide window; keep the newest message in view."""
        spare = event.width - self.column_width()
        padding = max(self.padding, spare // 2)
        if int(self.text.cget("padx")) != padding:
            self.text.configure(padx=padding)
        if self.following:
            self.after_idle(lambda: self.text.see("end"))

    def _scrollbar_moved(self, *args: str) -> None:
        self.text.yview(*args)
        self._maybe_top()

    def _scrolled(self, _event: object = None) -> None:
        self.after_idle(self._note_position)

    def _note_position(self) -> None:
        self.following = self.text.yview()[1] >= 0.999
        if self.following:
            self.left_off.at_bottom()
            self.on_newest()

    def destroy(self) -> None:
        self.left_off.forget_keys()
        super().destroy()

    def _maybe_top(self, _event: object = None) -> None:
        self.after_idle(self._check_top)

    def _check_top(self) -> None:
        self._note_position()
        if self.text.yview()[0] <= 0.0 and self.text.index("end-1c") != "1.0":
            self._on_top()
