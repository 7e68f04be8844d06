"""History pages (``0004``): which stored rows a connection may read, and how they travel.

Apart from the service because the question "may this account read this conversation, and
from where" has three answers (the lobby, a direct pair, a room's membership with a private
room's floor) that belong to their own modules; this one only asks them, counts the rows
against the account's history bucket and sends one page as one record.
"""

from __future__ import annotations

from common.messages import HistoryEnd, HistoryRequest
from common.protocol import LOBBY
from server.admission import Admission
from server.connection_state import ConnectionState
from server.conversations import RoomRequests
from server.direct import DirectMessages, line_of
from server.options import ServerOptions
from server.ports import ChatStore
from server.rooms import room_line
from server.store import StoreUnavailable


class HistoryPages:
    """Answers ``0004`` for a logged-in connection; thread-safe (no state of its own)."""

    def __init__(self, store: ChatStore, options: ServerOptions, admission: Admission,
                 direct: DirectMessages, rooms: RoomRequests) -> None:
        self._store, self._options, self._admission = store, options, admission
        self._direct, self._rooms = direct, rooms

    def answer(self, conn: ConnectionState, request: HistoryRequest) -> bool:
        """Send one page and its ``1004`` (or a ``1009``); False closes the connection."""
        assert conn.username is not None
        conversation, floor = request.conversation, 0
        if conversation == LOBBY:
            key: str | None = LOBBY
        elif conversation.startswith("@"):
            key = self._direct.history_key(conn.username, conversation)
        elif (source := self._rooms.history_source(conn, conversation)) is None:
            return True  # refused (forbidden, bad name or unavailable) and answered
        else:
            key, floor = source
        if key is None:
            conn.error("bad_request", "conversation is lobby or @username")
            return True
        limit = min(max(request.limit, 1), self._options.history_limit)
        if not self._admission.take_history_rows(conn.username, limit):
            conn.error("rate_limited", "too much history at once; slow down")
            return self._admission.count_request(conn)
        try:
            rows, more = self._store.history(key, request.before_msg_id, limit)
        except StoreUnavailable:
            conn.error("unavailable", "history is unavailable; try again")
            return True
        if floor:  # a private room's member reads from where it joined
            kept = [row for row in rows if row.msg_id > floor]
            rows, more = kept, more and len(kept) == len(rows)
        direct_line = self._direct.line
        page = [direct_line(row) if row.recipient else room_line(row, conversation)
                for row in rows]
        oldest = rows[0].msg_id if rows else None
        page.append(line_of(HistoryEnd(conversation, oldest, more)))
        conn.outbox.put_lines(tuple(page))
        return True
