"""The message view: a read-only ``tk.Text`` that paints ``formatting.Line`` items with tags.

A ``Text`` (not a canvas of labels) because it wraps long lines and URLs, selects and copies,
scrolls smoothly and stays fast with thousands of lines. Every entry's text carries a tag named
by its ``entry_id``, so a pending message can be restyled as sent in place and older history can
be painted above while the line the reader was looking at stays put.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from client.formatting import Line, code_spans
from client.ui.theme import PALETTE, Fonts

STATE_MARKS = {"pending": "  · sending…", "retrying": "  · retrying…", "sent": "  ✓"}
UNSENT = ("pending", "retrying")
BODY_INDENT = 14
"""Pixels every body line is indented past the headers, over a tinted band: no line of a
message can start where a header starts, so a body cannot pass for another person's message."""


class MessageView(ttk.Frame):
    """A scrollable read-only transcript; ``on_top()`` runs when the reader reaches the top."""

    def __init__(self, master: tk.Misc, fonts: Fonts, on_top: Callable[[], None]) -> None:
        super().__init__(master, style="Surface.TFrame")
        self._on_top = on_top
        p = PALETTE
        self.text = tk.Text(
            self, wrap="word", state="disabled", relief="flat", borderwidth=0,
            highlightthickness=0, background=p.surface, foreground=p.text, font=fonts.body,
            padx=18, pady=10, cursor="arrow", spacing1=1, spacing3=1, takefocus=False,
            selectbackground=p.accent_soft, inactiveselectbackground=p.accent_soft,
        )
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self._scrollbar_moved)
        self.text.configure(yscrollcommand=self.scrollbar.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        t = self.text
        t.tag_configure("day", justify="center", foreground=p.muted, font=fonts.bold,
                        spacing1=14, spacing3=6)
        t.tag_configure("system", justify="center", foreground=p.muted, font=fonts.small,
                        spacing1=6, spacing3=4)
        t.tag_configure("sender", foreground=p.other_sender, font=fonts.bold, spacing1=10)
        t.tag_configure("sender_own", foreground=p.accent, font=fonts.bold, spacing1=10)
        t.tag_configure("handle", foreground=p.muted, font=fonts.small)
        t.tag_configure("time", foreground=p.muted, font=fonts.small)
        t.tag_configure("mark", foreground=p.muted, font=fonts.small)
        t.tag_configure("body", lmargin1=BODY_INDENT, lmargin2=BODY_INDENT,
                        lmargincolor=p.sidebar, spacing3=2)
        t.tag_configure("own_body", background=p.own_band, lmargin1=BODY_INDENT,
                        lmargin2=BODY_INDENT, lmargincolor=p.accent_soft)
        # after the body tags, so its background wins over the own-message band
        t.tag_configure("code", font=fonts.mono, background=p.code_background,
                        foreground=p.text, spacing1=1, spacing3=1)
        t.tag_configure("pending", foreground=p.muted)
        t.tag_raise("pending")
        for sequence in ("<MouseWheel>", "<Button-4>", "<Prior>"):
            t.bind(sequence, self._maybe_top, add=True)

    # --- painting ---------------------------------------------------------------------------

    def render(self, lines: Sequence[Line], anchor: str | None) -> None:
        """Repaint everything; keep ``anchor`` at the top, else show the newest line."""
        t = self.text
        t.configure(state="normal")
        t.delete("1.0", "end")
        for line in lines:
            self._insert(line)
        t.configure(state="disabled")
        ranges = t.tag_ranges(anchor) if anchor else ()
        if ranges:
            t.yview(ranges[0])
        else:
            t.see("end")

    def append(self, lines: Sequence[Line]) -> None:
        """Add at the bottom; follow only if the reader was already at the bottom (or sent it)."""
        t = self.text
        following = t.yview()[1] >= 0.999 or any(line.own for line in lines)
        t.configure(state="normal")
        for line in lines:
            self._insert(line)
        t.configure(state="disabled")
        if following:
            t.see("end")

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
        elif line.kind == "system":
            t.insert("end", f"{line.text} · {line.time}\n", ("system", eid, f"x-{eid}"))
        else:
            t.insert("end", line.sender, ("sender_own" if line.own else "sender", eid))
            if line.handle:
                t.insert("end", f" {line.handle}", ("handle", eid))
            if line.time:  # none while unacked: the server's time comes with the ack
                t.insert("end", f"  {line.time}", ("time", eid, f"t-{eid}"))
            if line.own:
                t.insert("end", STATE_MARKS.get(line.state, "  ✓"), ("mark", eid, f"s-{eid}"))
            t.insert("end", "\n", (eid,))
            tags = ["body", eid, f"b-{eid}"]
            if line.own:
                tags.append("own_body")
            if line.state in UNSENT:
                tags.append("pending")
            spans = code_spans(line.text) or [(line.text, False)]
            for text, code in spans:  # each run is whole lines; a code run's newline is code
                t.insert("end", f"{text}\n", (*tags, "code") if code else tuple(tags))

    # --- reading --------------------------------------------------------------------------

    def plain_text(self) -> str:
        """Everything shown, as text (tests read what a person would see)."""
        return self.text.get("1.0", "end-1c")

    def _scrollbar_moved(self, *args: str) -> None:
        self.text.yview(*args)
        self._maybe_top()

    def _maybe_top(self, _event: object = None) -> None:
        self.after_idle(self._check_top)

    def _check_top(self) -> None:
        if self.text.yview()[0] <= 0.0 and self.text.index("end-1c") != "1.0":
            self._on_top()
