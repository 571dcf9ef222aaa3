"""RedisTokenStore in detail, against a real redis-server: key names and their escaping, TTLs,
bad data, outages and their messages, the login lock's wait, and URLs shown without passwords.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
import re
import socket
import time
import types
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis_server import RedisServer

from auth_plugins import ConfigError, RedisTokenStore, Token
from auth_plugins.core.errors import AuthPluginError
from auth_plugins.stores import Failure, StoreUnavailableWarning, TokenKey, redis_link
from auth_plugins.stores import redis as redis_store
from auth_plugins.stores.redis import TTL_MARGIN

KEY = TokenKey("teamup", "http://127.0.0.1:1/teamup/api/v2", "alice@example.com")
#: KEY's hash in key names: sha256 of "vendor\nbase URL\nuser", first 32 hex digits. Every
#: process of a fleet, whatever version of auth-plugins it runs, must name KEY's keys alike.
KEY_HASH = "8551fc97252f379dcc53fb51edb2659a"


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisTokenStore]:
    made = RedisTokenStore(redis_url)
    yield made
    made.client.close()


@pytest.fixture
def other_process(redis_url: str) -> Iterator[RedisTokenStore]:
    """A second store on the same Redis: what another process of the fleet sees."""
    made = RedisTokenStore(redis_url)
    yield made
    made.client.close()


@pytest.fixture
def r(redis_url: str) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def dead_url() -> str:
    """A Redis URL where nothing listens: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def names(r: Any) -> list[str]:
    return sorted(name.decode() for name in r.keys("*"))


def calls(r: Any, command: str) -> int:
    """How many times Redis ran ``command`` since the last CONFIG RESETSTAT."""
    stats = r.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def outage_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, StoreUnavailableWarning)]


# -- key names and their escaping ------------------------------------------------------------


def test_key_names_are_the_same_for_every_process_of_a_fleet(
    store: RedisTokenStore, r: Any
) -> None:
    """Processes running different versions share one Redis: the names are a contract."""
    store.save(KEY, Token("t"))
    store.save_failure(KEY, Failure("rate_limited", time.time() + 100, "slow down"))
    store.count_attempt(KEY, 60.0, 6000.0)
    with store.lock(KEY):
        held = names(r)
    assert held == [
        f"auth-plugins:attempts:teamup:{KEY_HASH}:100",
        f"auth-plugins:failure:teamup:{KEY_HASH}",
        f"auth-plugins:lock:teamup:{KEY_HASH}",
        f"auth-plugins:token:teamup:{KEY_HASH}",
    ]


def test_users_of_one_vendor_have_tokens_of_their_own(
    store: RedisTokenStore, other_process: RedisTokenStore
) -> None:
    bob = KEY._replace(username="bob@example.com")
    store.save(KEY, Token("alice-token"))
    store.save(bob, Token("bob-token"))
    alice_seen, bob_seen = other_process.load(KEY), other_process.load(bob)
    assert alice_seen is not None
    assert alice_seen.access_token == "alice-token"
    assert bob_seen is not None
    assert bob_seen.access_token == "bob-token"
    assert other_process.keys() == sorted([KEY, bob])


def test_logout_of_a_vendor_named_with_glob_characters_takes_its_own_keys_only(
    store: RedisTokenStore,
) -> None:
    """A vendor's name is matched literally: "te*" must not log out "teamup" as well."""
    vendors = ["teamup", "te*", "te?mup", "t[e]amup", "t\\eamup"]
    for vendor in vendors:
        store.save(KEY._replace(vendor=vendor), Token("t"))
    for vendor in ["te*", "te?mup", "t[e]amup", "t\\eamup"]:
        assert store.clear(vendor) == 1, vendor
        listed = store.keys()
        left = [key.vendor for key in listed]
        assert vendor not in left
        assert "teamup" in left
    assert store.keys() == [KEY]


def test_a_prefix_with_glob_characters_lists_and_clears_its_own_keys_only(
    redis_url: str, r: Any
) -> None:
    mine = RedisTokenStore(redis_url, prefix="app[1]:")
    neighbour = RedisTokenStore(redis_url, prefix="app1:")
    bob = KEY._replace(username="bob@example.com")
    mine.save(KEY, Token("mine"))
    neighbour.save(bob, Token("neighbour's"))
    assert mine.keys() == [KEY]
    assert mine.clear() == 1
    assert neighbour.keys() == [bob]
    assert [name.split(":")[:3] for name in names(r)] == [["app1", "token", "teamup"]]


# -- copies ----------------------------------------------------------------------------------


def test_a_copy_writes_under_the_same_prefix(redis_url: str, r: Any) -> None:
    """A worker process gets a pickled store: it must share the parent's keys."""
    original = RedisTokenStore(redis_url, prefix="myapp:auth:")
    for duplicate in (pickle.loads(pickle.dumps(original)), copy.deepcopy(original)):
        assert duplicate.prefix == "myapp:auth:"
        duplicate.save(KEY, Token("from-the-copy"))
        loaded = original.load(KEY)
        assert loaded is not None
        assert loaded.access_token == "from-the-copy"
        assert names(r) == [f"myapp:auth:token:teamup:{KEY_HASH}"]


def test_a_copy_keeps_the_retry_interval(dead_url: str) -> None:
    duplicate = pickle.loads(pickle.dumps(RedisTokenStore(dead_url, retry_interval=7.5)))
    with pytest.warns(StoreUnavailableWarning, match=r"tries Redis again every 7\.5s"):
        duplicate.save(KEY, Token("t"))


def test_a_store_built_on_a_client_says_how_to_get_a_copyable_one(r: Any) -> None:
    with pytest.raises(TypeError) as caught:
        pickle.dumps(RedisTokenStore(r))
    assert str(caught.value) == (
        "a RedisTokenStore built on a client cannot be pickled or copied; "
        "build it from a URL: RedisTokenStore('redis://host:6379/0')"
    )


# -- tokens ----------------------------------------------------------------------------------


def test_an_expired_token_is_kept_for_the_margin_only(store: RedisTokenStore, r: Any) -> None:
    """A token past its life still lives TTL_MARGIN (clock skew), not a second more."""
    store.save(KEY, Token("old", expires_at=time.time() - 100))
    ttl = r.pttl(f"auth-plugins:token:teamup:{KEY_HASH}")
    assert TTL_MARGIN * 1000 - 5000 < ttl <= TTL_MARGIN * 1000


def test_a_deleted_token_is_gone_for_every_process(
    store: RedisTokenStore, other_process: RedisTokenStore, r: Any
) -> None:
    store.save(KEY, Token("t"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # deleting is no outage
        store.delete(KEY)
    assert other_process.load(KEY) is None
    assert names(r) == []


# -- bad data in Redis -----------------------------------------------------------------------


def test_another_keys_token_under_this_name_is_ignored_with_a_warning(
    store: RedisTokenStore, r: Any
) -> None:
    """Never send alice's request with someone else's token, whatever Redis holds."""
    name = f"auth-plugins:token:teamup:{KEY_HASH}"
    bob = KEY._replace(username="bob@example.com")
    r.set(name, json.dumps({"key": list(bob), "token": Token("bobs").to_dict()}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert store.load(KEY) is None
    [warning] = caught
    assert str(warning.message) == (
        f"auth-plugins: ignoring the token in Redis for {KEY} (it is not this key's token)"
    )
    assert warning.filename == __file__  # pointed at the code that loaded, not at the store
    r.set(name, json.dumps([list(KEY), Token("t").to_dict()]))  # JSON, but no record at all
    with pytest.warns(UserWarning, match="it is not this key's token"):
        assert store.load(KEY) is None


def test_listing_skips_entries_that_are_not_tokens(store: RedisTokenStore, r: Any) -> None:
    """`auth-plugins tokens` lists what it can read; junk under the prefix is not an error."""
    store.save(KEY, Token("t"))
    junk = {
        "not-json": b"{oops",
        "no-key": json.dumps({"token": {}}),
        "short-key": json.dumps({"key": ["teamup"]}),
        "key-not-a-list": json.dumps({"key": None}),
        "a-list": json.dumps(["teamup", "x", "y"]),
    }
    for suffix, raw in junk.items():
        r.set(f"auth-plugins:token:teamup:{suffix}", raw)
    assert store.keys() == [KEY]


# -- refused logins --------------------------------------------------------------------------


def test_a_refused_login_is_shared_until_its_end_and_no_longer(
    store: RedisTokenStore, other_process: RedisTokenStore, r: Any
) -> None:
    failure = Failure("rate_limited", time.time() + 100, "slow down", status=429)
    store.save_failure(KEY, failure)
    assert other_process.load_failure(KEY) == failure
    ttl = r.pttl(f"auth-plugins:failure:teamup:{KEY_HASH}")
    assert 95_000 < ttl <= 100_000


def test_a_cleared_failure_is_cleared_for_every_process(
    store: RedisTokenStore, other_process: RedisTokenStore, r: Any
) -> None:
    store.save_failure(KEY, Failure("rate_limited", time.time() + 100, "slow down"))
    store.clear_failure(KEY)
    assert other_process.load_failure(KEY) is None
    assert names(r) == []


def test_a_failure_holds_back_until_its_end_exclusive(
    store: RedisTokenStore, r: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record still in Redis (another machine's clock ahead) holds back only until `until`."""
    now = 1_000_000.0
    monkeypatch.setattr(redis_store, "time", types.SimpleNamespace(time=lambda: now))
    name = f"auth-plugins:failure:teamup:{KEY_HASH}"
    for until, held in ((now - 1, False), (now, False), (now + 0.001, True)):
        r.set(name, json.dumps(Failure("rate_limited", until, "slow").to_dict()), ex=60)
        found = store.load_failure(KEY)
        assert (found is not None) is held, until


def test_a_failure_with_no_whole_millisecond_left_is_not_written(
    store: RedisTokenStore, r: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis refuses a TTL of 0: writing one would be taken for an outage."""
    now = 1_000_000.0
    monkeypatch.setattr(redis_store, "time", types.SimpleNamespace(time=lambda: now))
    r.config_resetstat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.save_failure(KEY, Failure("rate_limited", now + 0.0005, "slow"))
        assert calls(r, "set") == 0
        store.save_failure(KEY, Failure("rate_limited", now + 0.0015, "slow"))  # 1 ms left
        assert calls(r, "set") == 1


def test_refused_logins_are_remembered_in_memory_while_redis_is_away(dead_url: str) -> None:
    store = RedisTokenStore(dead_url, retry_interval=3600)
    failure = Failure("rate_limited", time.time() + 100, "slow down")
    with pytest.warns(StoreUnavailableWarning):
        store.save_failure(KEY, failure)
    assert store.load_failure(KEY) == failure


# -- login attempts --------------------------------------------------------------------------


def test_an_attempt_counter_lives_two_windows(store: RedisTokenStore, r: Any) -> None:
    """It must outlive its own window (the count must hold for all of it)."""
    store.count_attempt(KEY, 60.0, 6000.0)
    assert 119_000 < r.pttl(f"auth-plugins:attempts:teamup:{KEY_HASH}:100") <= 120_000


@pytest.mark.parametrize(("window", "low", "high"), [(0.4, 0, 1000), (1.0, 1000, 2000)])
def test_a_short_window_counter_lives_at_least_a_second(
    store: RedisTokenStore, r: Any, window: float, low: int, high: int
) -> None:
    """Redis's EXPIRE takes whole seconds: below half a second, two windows round up to 1 s."""
    store.count_attempt(KEY, window, 0.0)
    assert low < r.pttl(f"auth-plugins:attempts:teamup:{KEY_HASH}:0") <= high


def test_a_counter_and_its_expiry_are_set_in_one_transaction(
    store: RedisTokenStore, r: Any
) -> None:
    """INCR and EXPIRE in MULTI/EXEC: a dropped connection never leaves a counter with no TTL."""
    r.config_resetstat()
    assert store.count_attempt(KEY, 60.0, 6000.0) == 1
    assert (calls(r, "multi"), calls(r, "exec")) == (1, 1)


# -- the command line: listing and logout ----------------------------------------------------


def test_logging_out_of_more_tokens_than_one_batch(store: RedisTokenStore, r: Any) -> None:
    """1001 tokens: every one deleted, in batches of 500, found in few SCAN round trips."""
    for i in range(1001):
        store.save(KEY._replace(username=f"user{i}@example.com"), Token("t"))
    r.config_resetstat()
    assert store.clear() == 1001
    assert names(r) == []
    assert calls(r, "del") == 3
    assert calls(r, "scan") <= 3 * 5  # three kinds of key, COUNT 500 each


def test_the_command_line_tries_redis_at_once_even_during_a_back_off(
    own_redis_server: RedisServer,
) -> None:
    """`auth-plugins tokens` right after an outage must not fail for the back-off's sake."""
    store = RedisTokenStore(own_redis_server.url, retry_interval=3600)
    own_redis_server.stop()
    with pytest.warns(StoreUnavailableWarning):
        store.save(KEY, Token("kept-here"))
    with pytest.raises(AuthPluginError) as caught:
        store.keys()
    assert str(caught.value) == (
        f"cannot reach the token store {own_redis_server.url} "
        "(set in AUTH_PLUGINS_TOKEN_STORE); is Redis running?"
    )
    own_redis_server.start()
    RedisTokenStore(own_redis_server.url).save(KEY, Token("in-redis"))
    assert store.keys() == [KEY]
    assert store.clear() == 1


# -- URLs without their password -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@redis.internal:6379/0", "redis://:***@redis.internal:6379/0"),
        ("redis://bob:s3cret@redis.internal/2", "redis://bob:***@redis.internal/2"),
        ("unix://:s3cret@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
    ],
)
def test_a_url_is_shown_with_its_password_hidden_and_nothing_else_changed(
    url: str, shown: str
) -> None:
    assert repr(RedisTokenStore(url)) == f"<RedisTokenStore {shown} prefix='auth-plugins:'>"


def test_a_url_that_cannot_be_read_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        RedisTokenStore("redis://:s3cret@redis.internal:70000/0")
    assert str(caught.value).startswith(
        "cannot use the Redis URL a Redis URL that cannot be read: "
    )
    assert "s3cret" not in str(caught.value)


# -- outages: what they say ------------------------------------------------------------------


def test_an_outage_warning_names_the_error(dead_url: str) -> None:
    store = RedisTokenStore(dead_url, retry_interval=3600)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.save(KEY, Token("t"))
    [message] = outage_warnings(caught)
    where = dead_url.removeprefix("redis://").removesuffix("/0")
    assert (
        f"the token store {dead_url} is unreachable (ConnectionError: Error 111 connecting "
        f"to {where}. Connection refused.); this process keeps its tokens in memory"
    ) in message


def test_a_long_error_is_cut_to_200_characters(tmp_path: Any) -> None:
    """An error quoting a long socket path must not flood the log."""
    store = RedisTokenStore(f"unix://{tmp_path}/{'d' * 230}/redis.sock", retry_interval=3600)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.save(KEY, Token("t"))
    [message] = outage_warnings(caught)
    quoted = re.search(r"\(ConnectionError: (.*)\); this process", message)
    assert quoted is not None
    assert len(quoted.group(1)) == 200


def test_recovery_is_logged_once_and_a_new_outage_warns_again(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisTokenStore(own_redis_server.url, retry_interval=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        own_redis_server.stop()
        store.save(KEY, Token("t"))
        assert len(outage_warnings(caught)) == 1
        own_redis_server.start()
        with caplog.at_level(logging.WARNING, logger="auth_plugins"):
            for _ in range(3):
                store.save(KEY, Token("t"))
        assert [record.getMessage() for record in caplog.records] == [
            f"auth-plugins: the token store {own_redis_server.url} is reachable again"
        ]
        own_redis_server.stop()
        store.save(KEY, Token("t"))
        assert len(outage_warnings(caught)) == 2


# -- the login lock --------------------------------------------------------------------------


def test_a_lock_held_elsewhere_is_waited_for_three_expiries_then_refused(
    store: RedisTokenStore, r: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter gives up after 3 x expiry (here more than LOCK_WAIT), with a clear error.

    The other holder's lock lapses at 3.5 expiries: a waiter that waited longer (or for
    ever) would take it and raise nothing.
    """
    monkeypatch.setattr(redis_link, "LOCK_WAIT", 0.1)
    name = f"auth-plugins:lock:teamup:{KEY_HASH}"
    holder = r.lock(name, timeout=0.7 * 3.5)
    assert holder.acquire(blocking=False)
    started = time.monotonic()
    with pytest.raises(AuthPluginError) as caught, store.lock(KEY, expiry=0.7):
        pytest.fail("took a lock another process holds")
    assert time.monotonic() - started >= 2.0
    assert str(caught.value) == (
        f"waited 2s for the login lock {name} in {redis_url}: "
        "other processes keep logging in with it"
    )


def test_a_lapsed_lock_is_logged_with_the_key_it_was_for(
    store: RedisTokenStore, r: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="auth_plugins"), store.lock(KEY, expiry=30):
        r.delete(f"auth-plugins:lock:teamup:{KEY_HASH}")  # lapsed while the login ran long
    assert [record.getMessage() for record in caplog.records] == [
        f"auth-plugins: the login lock for {KEY} lapsed before this process let go of it; "
        "another process may have logged in as well"
    ]


def test_a_key_of_another_type_reads_as_absent_not_as_an_outage(
    store: RedisTokenStore, r: Any
) -> None:
    """A hash another tool left under our names is bad data: skipped, not "Redis is down"."""
    other = TokenKey("teamup", KEY.base_url, "bob@example.com")
    store.save(other, Token("bobs-token"))
    r.hset(f"auth-plugins:token:teamup:{KEY_HASH}", "field", "value")
    r.hset(f"auth-plugins:failure:teamup:{KEY_HASH}", "field", "value")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no outage warning, no back-off
        assert store.load(KEY) is None
        assert store.load_failure(KEY) is None
        assert store.keys() == [other]  # what `auth-plugins tokens` lists
    loaded = store.load(other)
    assert loaded is not None
    assert loaded.access_token == "bobs-token"
