"""Tk widgets only: no sockets, no crypto. The controller drives them through ``TkView``."""
