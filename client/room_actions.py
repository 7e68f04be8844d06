"""What the window's room parts call on the controller: browse, join, create, invite, leave and
an owner's settings. A base of ``App`` (after ``ChatActions``), like ``client.actions``.

Each action checks what it can before sending (a room name's form, a topic's length, which
usernames exist, looked up with ``0019``), so most mistakes are explained before the server is
asked; what the server still refuses comes back beside the same control (``client.room_sync``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from client.actions import ChatActions
from client.renderer import View
from client.room_sync import Answer, NoRoomsView, RoomsView, RoomSync
from client.rooms import MAX_TOPIC, room_name_problem, usernames_in
from common.messages import ClientMessage
from common.messages_rooms import (
    CreateRoomRequest,
    InviteRequest,
    JoinRoomRequest,
    LeaveRoomRequest,
    ListEnd,
    PeopleRequest,
    PersonEntry,
    PublicRoomEntry,
    PublicRoomsRequest,
    RemoveMemberRequest,
    RenameRoomRequest,
    SetRoleRequest,
    SetTopicRequest,
)

logger = logging.getLogger(__name__)


class RoomActions(ChatActions):
    """The room actions of ``App``; the attributes are ``App``'s own."""

    view: View
    _room_sync: RoomSync | None = None

    def now_ms(self) -> int:
        raise NotImplementedError

    @property
    def rooms(self) -> RoomSync | None:
        """The rooms of the logged-in account (made with its conversation, kept across
        reconnects, dropped with it at the logout)."""
        if self.traffic is None:
            return None
        sync = self._room_sync
        if sync is None or sync.chat is not self.traffic.model:
            traffic = self.traffic
            view = self.view if isinstance(self.view, RoomsView) else NoRoomsView()
            sync = self._room_sync = RoomSync(
                traffic.model, self.link.send, lambda: self.link.online, view, self.now_ms,
                self.select_conversation)
        return sync

    def rooms_logged_in(self) -> None:
        """Logged in (first time or again): opt in to room traffic, list the rooms."""
        if self.rooms is not None:
            self.rooms.logged_in()

    def rooms_received(self, message: object) -> bool:
        """A server message; True if it answered a room request and goes no further."""
        sync = self.rooms
        if sync is None:
            return False
        taken = sync.received(message)
        if taken and self.traffic is not None:
            self.traffic.refresh()
        return taken

    def rooms_settled(self) -> None:
        """After the rest of the controller handled a message: header and members follow."""
        if self.rooms is not None:
            self.rooms.sync()

    def select_conversation(self, key: str) -> None:
        super().select_conversation(key)
        if self.rooms is not None:
            self.rooms.sync()

    # --- browsing and joining -------------------------------------------------------------

    def browse_rooms(self, prefix: str) -> None:
        """The browse dialog's search box: the first page of public rooms starting so."""
        sync = self.rooms
        if sync is not None:
            listing = sync.rooms.public
            listing.query, listing.entries, listing.next = prefix, [], ""
            sync.batch("browse", [PublicRoomsRequest(prefix, "")], self._rooms_page(prefix))

    def more_rooms(self) -> None:
        """The browse dialog scrolled to the end of its list: the next page, if any."""
        sync = self.rooms
        if sync is not None and sync.rooms.public.next and not sync.rooms.public.loading:
            listing = sync.rooms.public
            listing.loading = True
            sync.batch("browse", [PublicRoomsRequest(listing.query, listing.next)],
                       self._rooms_page(listing.query))

    def _rooms_page(self, prefix: str) -> Callable[[Answer], None]:
        def done(answer: Answer) -> None:
            sync = self.rooms
            if sync is None or sync.rooms.public.query != prefix:
                return  # the person typed on: a newer search is on its way
            listing = sync.rooms.public
            listing.loading = False
            if sync.report_errors("browse", answer):
                return
            listing.entries += [m for m in answer if isinstance(m, PublicRoomEntry)]
            ends = [m for m in answer if isinstance(m, ListEnd)]
            listing.next = ends[-1].next if ends else ""
            sync.view.show_public_rooms(list(listing.entries), bool(listing.next))
        return done

    def join_room(self, name: str) -> None:
        """Join a public room (Enter in the browse dialog); it opens when the server agrees."""
        sync = self.rooms
        if sync is not None:
            sync.open_when_known = name
            sync.batch("browse", [JoinRoomRequest(name)])

    # --- creating and inviting -----------------------------------------------------------------

    def create_room(self, name: str, topic: str, private: bool, invitees: str) -> None:
        """The new-room dialog's Create: check, look the invitees up, then create and invite."""
        sync = self.rooms
        if sync is None:
            return
        problem = room_name_problem(name) or _topic_problem(topic)
        names, bad = usernames_in(invitees)
        if not problem and bad:
            problem = _not_usernames(bad)
        if problem:
            sync.view.show_room_error("new", problem)
            return

        def create(_found: set[str]) -> None:
            sync.open_when_known = name
            requests: list[ClientMessage] = [CreateRoomRequest(name, topic.strip(), private)]
            requests += [InviteRequest(name, guest) for guest in names
                         if guest != sync.chat.username]
            sync.batch("new", requests)

        self._look_up("new", names, create)

    def invite(self, room: str, invitees: str) -> None:
        """The invite dialog: each username looked up, then invited (owners only)."""
        sync = self.rooms
        if sync is None:
            return
        names, bad = usernames_in(invitees)
        if bad or not names:
            sync.view.show_room_error("invite", _not_usernames(bad) if bad else
                                      "Enter the usernames of the people to invite.")
            return

        def send(_found: set[str]) -> None:
            sync.batch("invite", [InviteRequest(room, guest) for guest in names])

        self._look_up("invite", names, send)

    def _look_up(self, where: str, names: list[str],
                 then: Callable[[set[str]], None]) -> None:
        """Find each username with ``0019`` (an exact name sorts first among those it
        begins); ``then`` runs only when every one exists, else the dialog says who does not."""
        sync = self.rooms
        if sync is None:
            return
        if not names:
            then(set())
            return

        def found(answer: Answer) -> None:
            if sync.report_errors(where, answer):
                return
            known = {m.username for m in answer if isinstance(m, PersonEntry)}
            missing = [n for n in names if n not in known]
            if missing:
                sync.view.show_room_error(where, "No account is called " + ", ".join(
                    f"“{n}”" for n in missing) + ".")
            else:
                then(known)

        sync.batch(where, [PeopleRequest(n, "") for n in names], found)

    # --- the open room's menu -------------------------------------------------------------------

    def leave_room(self, room: str) -> None:
        if self.rooms is not None:
            self.rooms.batch("header", [LeaveRoomRequest(room)])

    def set_topic(self, room: str, topic: str) -> None:
        sync = self.rooms
        if sync is not None:
            problem = _topic_problem(topic)
            if problem:
                sync.view.show_room_error("settings", problem)
            else:
                sync.batch("settings", [SetTopicRequest(room, topic.strip())])

    def rename_room(self, room: str, new_name: str) -> None:
        sync = self.rooms
        if sync is not None:
            problem = room_name_problem(new_name)
            if problem:
                sync.view.show_room_error("settings", problem)
            else:
                sync.batch("settings", [RenameRoomRequest(room, new_name)])

    def remove_member(self, room: str, username: str) -> None:
        if self.rooms is not None:
            self.rooms.batch("settings", [RemoveMemberRequest(room, username)])

    def set_role(self, room: str, username: str, role: str) -> None:
        if self.rooms is not None:
            self.rooms.batch("settings", [SetRoleRequest(room, username, role)])


def _topic_problem(topic: str) -> str:
    size = len(topic.strip())
    return f"A topic has at most {MAX_TOPIC} characters (this one has {size})." \
        if size > MAX_TOPIC else ""


def _not_usernames(bad: list[str]) -> str:
    return ", ".join(f"“{b}”" for b in bad) + (
        " cannot be a username (letters, digits, “_”, “.” and “-”, up to 32).")
