"""What every store builds on: keys, refused-login records, fleet detection, per-key locks, memory.

The refused-login record (:class:`Failure`) travels through files and Redis, so reading one back
must give exactly what was written and refuse anything else with one plain error. The memory
store is the default and the fallback of the shared stores: its failures and attempt windows are
checked here with explicit clocks, never by sleeping.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import Workers

from auth_plugins.stores import (
    Failure,
    FileTokenStore,
    FleetStore,
    KeyLocks,
    MemoryTokenStore,
    TokenKey,
)
from auth_plugins.stores import memory as memory_module
from auth_plugins.stores.base import as_fleet_store
from auth_plugins.tokens import Token

KEY = TokenKey("teamup", "https://goteamup.com/api/v2", "alice@example.com")
OTHER = TokenKey("teamup", "https://goteamup.com/api/v2", "bob@example.com")

#: The one error Failure.from_dict raises for anything it did not write.
NOT_A_RECORD = "^not a failure record$"


def full_failure() -> Failure:
    return Failure(
        "invalid_credentials",
        1_700_000_123.5,
        "TeamUp login failed: HTTP 401",
        status=401,
        code="auth_failed",
        retry_after=12.5,
        fingerprint=123456789,
        salt="00ff",
    )


def valid_record(**changes: Any) -> dict[str, Any]:
    """A record as to_dict writes it, with ``changes`` applied."""
    record = full_failure().to_dict()
    record.update(changes)
    return record


# -- TokenKey --------------------------------------------------------------------------------


def test_a_token_key_reads_as_vendor_user_and_base_url() -> None:
    """Shown to users (``auth-plugins tokens``, errors): who, where, never a secret."""
    assert str(KEY) == "teamup alice@example.com at https://goteamup.com/api/v2"


# -- Failure records -------------------------------------------------------------------------


def test_a_failure_record_is_every_field_by_name() -> None:
    assert full_failure().to_dict() == {
        "kind": "invalid_credentials",
        "until": 1_700_000_123.5,
        "message": "TeamUp login failed: HTTP 401",
        "status": 401,
        "code": "auth_failed",
        "retry_after": 12.5,
        "fingerprint": 123456789,
        "salt": "00ff",
    }


def test_a_failure_survives_a_json_round_trip_field_for_field() -> None:
    """What one process writes, another reads back whole: status, code, wait, fingerprint."""
    failure = full_failure()
    again = Failure.from_dict(json.loads(json.dumps(failure.to_dict())))
    assert again == failure
    assert again.to_dict() == failure.to_dict()


def test_a_failure_with_only_the_required_fields_round_trips() -> None:
    failure = Failure("rate_limited", 2000.0, "slow down")
    again = Failure.from_dict(json.loads(json.dumps(failure.to_dict())))
    assert again == failure
    assert (again.status, again.code, again.retry_after) == (None, None, None)
    assert (again.fingerprint, again.salt) == (None, None)


@pytest.mark.parametrize("kind", ["invalid_credentials", "account_locked", "rate_limited"])
def test_every_failure_kind_is_read_back(kind: str) -> None:
    assert Failure.from_dict(valid_record(kind=kind)).kind == kind


def test_whole_numbers_are_read_back_as_floats() -> None:
    """JSON writes 2000.0 as 2000 in some encoders: times stay floats."""
    failure = Failure.from_dict(valid_record(until=2000, retry_after=30))
    assert failure.until == 2000.0
    assert isinstance(failure.until, float)
    assert failure.retry_after == 30.0
    assert isinstance(failure.retry_after, float)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("status", "401"),
        ("status", 401.0),
        ("status", True),
        ("code", 5),
        ("fingerprint", "123"),
        ("fingerprint", False),
        ("salt", 255),
        ("retry_after", "30"),
    ],
)
def test_an_optional_field_of_the_wrong_type_is_dropped(name: str, bad: object) -> None:
    """A hand-edited or foreign record keeps its meaning; a wrong-typed extra is just absent.

    Booleans are not numbers here: ``True`` is no HTTP status and no fingerprint.
    """
    failure = Failure.from_dict(valid_record(**{name: bad}))
    assert getattr(failure, name) is None
    rest = {k: v for k, v in failure.to_dict().items() if k != name}
    assert rest == {k: v for k, v in full_failure().to_dict().items() if k != name}


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "invalid_credentials",
        ["invalid_credentials", 2000.0, "bad"],
        42,
    ],
    ids=["none", "string", "list", "number"],
)
def test_anything_but_a_dict_is_not_a_failure_record(bad: object) -> None:
    with pytest.raises(ValueError, match=NOT_A_RECORD):
        Failure.from_dict(bad)


@pytest.mark.parametrize("kind", [None, "", "wrong_password", "INVALID_CREDENTIALS", 1])
def test_a_record_of_an_unknown_kind_is_refused(kind: object) -> None:
    """Every other field is valid: the kind alone makes it refused."""
    with pytest.raises(ValueError, match=NOT_A_RECORD):
        Failure.from_dict(valid_record(kind=kind))


def test_a_record_without_a_kind_is_refused() -> None:
    record = valid_record()
    del record["kind"]
    with pytest.raises(ValueError, match=NOT_A_RECORD):
        Failure.from_dict(record)


@pytest.mark.parametrize(
    "until",
    [None, "2000", True, False, math.inf, -math.inf, math.nan],
    ids=["none", "string", "true", "false", "inf", "-inf", "nan"],
)
def test_a_record_without_a_real_finite_until_is_refused(until: object) -> None:
    """An endless or unreadable ``until`` would hold logins back forever (or never)."""
    with pytest.raises(ValueError, match=NOT_A_RECORD):
        Failure.from_dict(valid_record(until=until))


@pytest.mark.parametrize("message", [None, 401, b"bytes"])
def test_a_record_without_a_text_message_is_refused(message: object) -> None:
    with pytest.raises(ValueError, match=NOT_A_RECORD):
        Failure.from_dict(valid_record(message=message))


def test_a_record_missing_until_or_message_is_refused() -> None:
    for name in ("until", "message"):
        record = valid_record()
        del record[name]
        with pytest.raises(ValueError, match=NOT_A_RECORD):
            Failure.from_dict(record)


# -- as_fleet_store --------------------------------------------------------------------------


class OldStore:
    """A store of one's own written to the first protocol: tokens and locks only."""

    persistent = False

    def __init__(self) -> None:
        self.tokens: dict[TokenKey, Token] = {}

    def load(self, key: TokenKey) -> Optional[Token]:
        return self.tokens.get(key)

    def save(self, key: TokenKey, token: Token) -> None:
        self.tokens[key] = token

    def delete(self, key: TokenKey) -> None:
        self.tokens.pop(key, None)

    def lock(self, key: TokenKey) -> AbstractContextManager[object]:
        return contextlib.nullcontext()


class OwnFleetStore(OldStore):
    """A store of one's own that also shares refused logins and login counts."""

    def lock(
        self, key: TokenKey, *, expiry: Optional[float] = None
    ) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def load_failure(self, key: TokenKey) -> Optional[Failure]:
        return None

    def save_failure(self, key: TokenKey, failure: Failure) -> None:
        pass

    def clear_failure(self, key: TokenKey) -> None:
        pass

    def count_attempt(self, key: TokenKey, window: float, now: float) -> int:
        return 1


def test_a_store_of_the_old_protocol_is_not_a_fleet_store() -> None:
    """It still works: its auths then remember refused logins in their own process only."""
    assert as_fleet_store(OldStore()) is None


def test_a_store_with_all_four_fleet_methods_is_a_fleet_store() -> None:
    own = OwnFleetStore()
    assert as_fleet_store(own) is own
    memory = MemoryTokenStore()
    assert as_fleet_store(memory) is memory
    assert isinstance(memory, FleetStore)


@pytest.mark.parametrize(
    "missing", ["load_failure", "save_failure", "clear_failure", "count_attempt"]
)
def test_a_store_missing_one_fleet_method_is_not_a_fleet_store(missing: str) -> None:
    """Half a fleet store would fail mid-login: all four methods or none are used."""
    store = OwnFleetStore()
    setattr(store, missing, None)  # present, but not a method
    assert as_fleet_store(store) is None


# -- KeyLocks --------------------------------------------------------------------------------


def test_one_lock_per_key_made_on_first_use() -> None:
    locks = KeyLocks()
    first = locks(KEY)
    assert locks(KEY) is first
    assert locks(TokenKey(*KEY)) is first  # equal keys, not only the same object
    assert locks(OTHER) is not first


def test_a_key_lock_is_re_entrant() -> None:
    """Renewal code holding the lock calls the store, which takes it again."""
    lock = KeyLocks()(KEY)
    with lock, lock:
        assert lock.acquire(blocking=False)
        lock.release()


def test_holding_one_key_blocks_that_key_only() -> None:
    """Renewing one user's token never waits on another's."""
    locks = KeyLocks()
    seen: dict[str, bool] = {}

    def other_thread() -> None:
        seen["same key"] = locks(KEY).acquire(blocking=False)
        other = locks(OTHER)
        seen["other key"] = other.acquire(timeout=5)
        other.release()

    with locks(KEY):
        workers = Workers()
        workers.start(other_thread)
        workers.join()
    assert seen == {"same key": False, "other key": True}


def test_held_says_which_entry_is_the_outermost() -> None:
    """A store takes its cross-process lock only on the outermost entry: never waits on itself."""
    locks = KeyLocks()
    with locks.held(KEY) as outer:
        with locks.held(KEY) as inner, locks.held(OTHER) as other:
            assert (outer, inner, other) == (True, False, True)
        with locks.held(KEY) as again:
            assert again is False
    with locks.held(KEY) as later:
        assert later is True


def test_a_copy_of_key_locks_has_locks_of_its_own() -> None:
    """Locks belong to one process: a copy (pickled to a worker) must not share them."""
    locks = KeyLocks()
    lock = locks(KEY)
    with lock:
        copied = copy.deepcopy(locks)
        assert copied(KEY) is not lock
        assert copied(KEY).acquire(blocking=False)
        copied(KEY).release()


# -- MemoryTokenStore: tokens and locks ------------------------------------------------------


def test_memory_store_loads_what_was_saved_until_deleted() -> None:
    store = MemoryTokenStore()
    assert store.load(KEY) is None
    first, second = Token("first"), Token("second")
    store.save(KEY, first)
    assert store.load(KEY) is first
    store.save(KEY, second)
    assert store.load(KEY) is second
    assert store.load(OTHER) is None
    store.delete(KEY)
    assert store.load(KEY) is None
    store.delete(KEY)  # forgetting nothing is fine
    assert store.load(KEY) is None


def test_memory_store_is_not_persistent_and_shows_its_size() -> None:
    """Not persistent: the auth does not write last-use times to it."""
    store = MemoryTokenStore()
    assert store.persistent is False
    store.save(KEY, Token("a"))
    store.save(OTHER, Token("b"))
    assert repr(store) == "<MemoryTokenStore tokens=2>"


def test_memory_store_lock_is_the_keys_own_re_entrant_lock() -> None:
    store = MemoryTokenStore()
    lock = store.lock(KEY)
    assert store.lock(KEY, expiry=5.0) is lock
    assert store.lock(OTHER) is not lock
    with lock, store.lock(KEY):
        pass


# -- MemoryTokenStore: refused logins --------------------------------------------------------


class Clock:
    """Stands in for the ``time`` module the memory store reads: ``time()`` is ``now``."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.on_read: list[Any] = []

    def time(self) -> float:
        for hook in self.on_read:
            hook()
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(0.0)
    monkeypatch.setattr(memory_module, "time", fake)
    return fake


def test_a_failure_is_remembered_until_its_until(clock: Clock) -> None:
    store = MemoryTokenStore()
    failure = Failure("account_locked", 1000.0, "locked", status=423)
    store.save_failure(KEY, failure)
    clock.now = 999.999
    assert store.load_failure(KEY) is failure
    assert store.load_failure(OTHER) is None


def test_a_failure_is_forgotten_at_its_until_exactly(clock: Clock) -> None:
    """``until`` is the first moment logins may be tried again, as every store reads it."""
    store = MemoryTokenStore()
    store.save_failure(KEY, Failure("rate_limited", 1000.0, "slow down"))
    clock.now = 1000.0
    assert store.load_failure(KEY) is None


def test_an_expired_failure_is_dropped_for_good(clock: Clock) -> None:
    """Once lapsed it is gone: a clock stepping back does not bring it back."""
    store = MemoryTokenStore()
    store.save_failure(KEY, Failure("rate_limited", 1000.0, "slow down"))
    clock.now = 1001.0
    assert store.load_failure(KEY) is None
    clock.now = 500.0
    assert store.load_failure(KEY) is None


def test_an_expired_failure_cleared_meanwhile_is_no_error(clock: Clock) -> None:
    """load_failure runs without the key's lock: ``auth.reset()`` on another thread may clear
    the same record between its look and its removal (simulated by the clock read)."""
    store = MemoryTokenStore()
    store.save_failure(KEY, Failure("rate_limited", 1000.0, "slow down"))
    clock.now = 1001.0
    clock.on_read.append(lambda: store.clear_failure(KEY))
    assert store.load_failure(KEY) is None


def test_a_cleared_failure_is_forgotten(clock: Clock) -> None:
    store = MemoryTokenStore()
    store.save_failure(KEY, Failure("invalid_credentials", 1000.0, "bad login"))
    store.save_failure(OTHER, Failure("account_locked", 1000.0, "locked"))
    store.clear_failure(KEY)
    store.clear_failure(KEY)  # clearing nothing is fine
    assert store.load_failure(KEY) is None
    other = store.load_failure(OTHER)
    assert other is not None
    assert other.kind == "account_locked"


def test_a_new_failure_replaces_the_old(clock: Clock) -> None:
    store = MemoryTokenStore()
    store.save_failure(KEY, Failure("rate_limited", 1000.0, "first"))
    second = Failure("account_locked", 2000.0, "second")
    store.save_failure(KEY, second)
    clock.now = 1500.0
    assert store.load_failure(KEY) is second


# -- MemoryTokenStore: attempt counting ------------------------------------------------------


def test_attempts_count_up_within_one_window() -> None:
    store = MemoryTokenStore()
    assert [store.count_attempt(KEY, 60.0, now) for now in (120.0, 150.0, 179.999)] == [1, 2, 3]


def test_a_new_window_starts_counting_at_one() -> None:
    """Windows are fixed slices (``now // window``), not the last 60 seconds."""
    store = MemoryTokenStore()
    assert store.count_attempt(KEY, 60.0, 170.0) == 1
    assert store.count_attempt(KEY, 60.0, 179.999) == 2
    assert store.count_attempt(KEY, 60.0, 180.0) == 1  # the boundary opens a new window
    assert store.count_attempt(KEY, 60.0, 181.0) == 2
    assert store.count_attempt(KEY, 60.0, 1000.0) == 1  # windows skipped: still one


def test_attempts_are_counted_per_key() -> None:
    store = MemoryTokenStore()
    assert store.count_attempt(KEY, 60.0, 0.0) == 1
    assert store.count_attempt(KEY, 60.0, 1.0) == 2
    assert store.count_attempt(OTHER, 60.0, 2.0) == 1
    assert store.count_attempt(KEY, 60.0, 3.0) == 3


def test_window_boundaries_agree_with_the_file_store(tmp_path: Path) -> None:
    """Windows are ``now // window`` in every store, so processes agree without talking.

    With a window of a tenth of a second, 0.95 and 1.0 fall in window 9 by floor division
    (``1.0 // 0.1 == 9.0``) though ``1.0 / 0.1`` rounds to 10: the stores must not differ.
    """
    memory, files = MemoryTokenStore(), FileTokenStore(directory=tmp_path / "cache")
    times = [0.95, 1.0, 1.05, 1.1, 1.2]
    assert [now // 0.1 for now in times] == [9.0, 9.0, 10.0, 11.0, 11.0]
    with files.lock(KEY):
        from_files = [files.count_attempt(KEY, 0.1, now) for now in times]
    assert from_files == [1, 2, 1, 1, 2]
    assert [memory.count_attempt(KEY, 0.1, now) for now in times] == from_files


# -- the package's names, loaded on first use ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("TokenKey", "base"),
        ("Failure", "base"),
        ("FileTokenStore", "file"),
        ("LOCK_TIMEOUT", "file"),
        ("MemoryTokenStore", "memory"),
        ("token_store_from_env", "choose"),
        ("STORE_ENV", "token_file"),
        ("CACHE_DIR_ENV", "token_file"),
    ],
)
def test_each_name_of_the_stores_package_comes_from_its_module_once(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str
) -> None:
    import importlib

    import auth_plugins.stores as stores

    expected = getattr(importlib.import_module(f"auth_plugins.stores.{module}"), name)
    # As on first use in a new process: not yet a global of the package.
    monkeypatch.delitem(vars(stores), name, raising=False)
    assert getattr(stores, name) is expected
    assert vars(stores)[name] is expected  # kept: later look-ups skip the hook
    assert name in stores.__all__
    assert name in dir(stores)


def test_an_unknown_name_of_the_stores_package_is_an_attribute_error() -> None:
    import auth_plugins.stores as stores

    said = r"^module 'auth_plugins\.stores' has no attribute 'Nope'$"
    with pytest.raises(AttributeError, match=said):
        stores.Nope
    assert "Nope" not in dir(stores)
    assert set(stores.__all__) <= set(dir(stores))
