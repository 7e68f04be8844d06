"""Argon2id hashing: parameters, verification, unknown users, bounded concurrency."""

from __future__ import annotations

import threading
import time

from server.passwords import PasswordHasherPool


def test_hash_is_argon2id_with_owasp_parameters() -> None:
    pool = PasswordHasherPool(1)
    h = pool.hash("111111")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=2$")
    assert "111111" not in h
    assert pool.hash("111111") != h  # salted


def test_verify_good_bad_and_unknown() -> None:
    pool = PasswordHasherPool(1)
    h = pool.hash("correct horse")
    assert pool.verify(h, "correct horse")
    assert not pool.verify(h, "correct hors")
    assert not pool.verify(None, "correct horse")  # unknown user: dummy verify, always False
    assert not pool.verify("not a hash", "x")
    assert not pool.needs_rehash(h)
    weak = PasswordHasherPool(1, time_cost=1, memory_cost=8_192).hash("x")
    assert pool.needs_rehash(weak)


def test_at_most_workers_hashes_at_once() -> None:
    pool = PasswordHasherPool(2, time_cost=1, memory_cost=8_192)
    running, peak = 0, 0
    lock = threading.Lock()
    original = pool._hasher.hash

    def counting(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        try:
            return original(password)
        finally:
            with lock:
                running -= 1

    class Counting:
        hash = staticmethod(counting)

    pool._hasher = Counting()  # type: ignore[assignment]
    threads = [threading.Thread(target=pool.hash, args=("pw",)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
