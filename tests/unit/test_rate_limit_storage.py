from limits.storage import storage_from_string

from services.common.ratelimit import SweptMemoryStorage


def test_the_in_process_rate_limit_store_starts_no_timer_threads_and_sweeps_inline():
    storage = storage_from_string("loket-memory://")
    assert isinstance(storage, SweptMemoryStorage)
    first_timer = storage.timer
    storage.incr("gone", expiry=-1)  # expired the moment it was counted
    for n in range(1000):
        storage.incr(f"caller-{n % 7}", expiry=60)
    assert storage.timer is first_timer  # the stock store would have started new ones
    storage._next_sweep = 0.0  # a second later
    storage.incr("caller-0", expiry=60)
    assert "gone" not in storage.storage and "gone" not in storage.expirations
    assert storage.get("caller-0") == 1000 // 7 + 2


def test_the_consoles_sign_in_limits_use_the_same_store():
    from services.portal.counts import SharedCounts

    failures = SharedCounts("memory://")
    assert isinstance(failures.shared.storage, SweptMemoryStorage)
    assert isinstance(failures.local.storage, SweptMemoryStorage)
