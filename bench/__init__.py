"""Benchmarks of the chat: a load generator on ``common/``, baselines, scenarios and reports.

``python -m bench all`` (``make bench``) and ``python -m bench quick`` (``make bench-quick``);
see BENCHMARKS.md. Traffic goes only to 127.0.0.1 and every run is bounded in time.
"""
