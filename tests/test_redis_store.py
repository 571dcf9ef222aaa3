"""RedisTokenStore against a real redis-server: storage, locks, outages, the shared window."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import redis
import requests
from redis_server import RedisServer

from auth_plugins import ConfigError, RedisTokenStore, Token, TokenStore, Up2MoneyAuth
from auth_plugins.sandbox import Sandbox
from auth_plugins.stores import (
    Failure,
    FileTokenStore,
    MemoryTokenStore,
    StoreUnavailableWarning,
    TokenKey,
    token_store_from_env,
)
from auth_plugins.stores.choose import default_store
from auth_plugins.stores.redis import TTL_MARGIN

KEY = TokenKey("teamup", "http://127.0.0.1:1/teamup/api/v2", "alice@example.com")


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisTokenStore]:
    made = RedisTokenStore(redis_url)
    yield made
    made.client.close()


@pytest.fixture
def r(redis_url: str) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# -- storage -------------------------------------------------------------------------------


def test_tokens_round_trip_with_a_ttl_a_little_past_their_life(
    store: RedisTokenStore, r: Any
) -> None:
    token = Token("abc", refresh_token="ref", expires_at=None, idle_timeout=300.0)
    store.save(KEY, token)
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.to_dict() == token.to_dict()
    [name] = r.keys("auth-plugins:token:*")
    assert json.loads(r.get(name))["key"] == list(KEY)
    assert 300 * 1000 < r.pttl(name) <= (300 + TTL_MARGIN) * 1000
    store.delete(KEY)
    assert store.load(KEY) is None


def test_a_token_with_no_stated_life_has_no_ttl(store: RedisTokenStore, r: Any) -> None:
    store.save(KEY, Token("abc"))
    [name] = r.keys("*")
    assert r.ttl(name) == -1


def test_a_client_and_a_prefix_of_ones_own(redis_url: str, r: Any) -> None:
    store = RedisTokenStore(r, prefix="myapp:tokens:")
    store.save(KEY, Token("abc"))
    assert [name.decode().rsplit(":", 2)[0] for name in r.keys("*")] == ["myapp:tokens:token"]
    assert store.keys() == [KEY]


def test_password_and_database_in_the_url(own_redis_server: RedisServer) -> None:
    admin = own_redis_server.client()
    admin.config_set("requirepass", "s3cret-pass")
    url = f"redis://:s3cret-pass@127.0.0.1:{own_redis_server.port}/3"
    store = RedisTokenStore(url)
    store.save(KEY, Token("abc"))
    assert "s3cret-pass" not in repr(store)
    checker = redis.Redis(port=own_redis_server.port, password="s3cret-pass", db=3)
    assert len(checker.keys("*")) == 1
    checker.close()
    # rediss:// is accepted (TLS); nothing connects until the store is used.
    assert "rediss://" in repr(RedisTokenStore("rediss://:pw@redis.example:6380/1"))


def test_keys_and_clear_use_scan_and_take_failures_too(store: RedisTokenStore, r: Any) -> None:
    other = KEY._replace(vendor="up2money")
    for key in (KEY, other):
        store.save(key, Token("t"))
        store.save_failure(key, Failure("rate_limited", 2e9, "slow down"))
        store.count_attempt(key, 60.0, 1000.0)
    assert store.keys() == sorted([KEY, other])
    assert store.clear("teamup") == 1
    assert store.keys() == [other]
    assert store.load_failure(KEY) is None
    assert store.load_failure(other) is not None
    assert store.clear() == 1
    assert r.keys("*") == []


def test_login_attempts_are_counted_per_window(store: RedisTokenStore, r: Any) -> None:
    assert [store.count_attempt(KEY, 60.0, 6000.0 + i) for i in range(3)] == [1, 2, 3]
    assert store.count_attempt(KEY, 60.0, 6060.0) == 1
    # Each window's counter expires on its own: none can outlive two windows.
    assert all(0 < r.ttl(name) <= 120 for name in r.keys("*attempts*"))


# -- locks ---------------------------------------------------------------------------------


def test_the_lock_expires_after_the_given_deadline(store: RedisTokenStore, r: Any) -> None:
    with store.lock(KEY, expiry=7.5):
        [name] = r.keys("auth-plugins:lock:*")
        assert 0 < r.pttl(name) <= 7500
        with store.lock(KEY, expiry=7.5):  # re-entered by its thread: no second Redis lock
            pass
        assert r.exists(name)
    assert r.keys("*") == []


def test_a_lapsed_lock_is_never_released_from_under_its_new_owner(
    store: RedisTokenStore, r: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with store.lock(KEY, expiry=30):
        [name] = r.keys("auth-plugins:lock:*")
        r.delete(name)  # as if it had lapsed while the login ran long...
        other = r.lock(name, timeout=30)
        assert other.acquire(blocking=False)  # ...and another process took it
    # Leaving did not delete the other process's lock, and raised nothing.
    assert r.get(name) is not None
    assert other.owned()
    assert "lapsed" in caplog.text
    other.release()


# -- chosen by the environment -------------------------------------------------------------


def test_the_environment_selects_redis_everywhere(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, sandbox: Sandbox
) -> None:
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_STORE", redis_url)
    chosen = token_store_from_env()
    assert isinstance(chosen, RedisTokenStore)
    assert default_store() is chosen  # one store (one connection pool) per URL
    auth = Up2MoneyAuth(
        "alice@example.com", "tok_alice-password", secret="sandbox-secret",
        base_url=sandbox.up2money_url,
    )  # fmt: skip
    assert auth.token_store is chosen
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_STORE", "file")
    assert isinstance(token_store_from_env(), FileTokenStore)
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_STORE", "memory")
    assert isinstance(default_store(), MemoryTokenStore)
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_STORE", "mongodb://user:pw@x")
    with pytest.raises(ConfigError, match="redis://") as caught:
        token_store_from_env()
    assert "pw" not in str(caught.value)


def test_the_store_the_environment_names_keeps_tokens_in_that_redis(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    """What the command line saves is in the server of the URL, for every machine to read."""
    monkeypatch.setenv("AUTH_PLUGINS_TOKEN_STORE", redis_url)
    token_store_from_env().save(KEY, Token("shared"))
    another_machine = RedisTokenStore(redis_url)
    loaded = another_machine.load(KEY)
    another_machine.client.close()
    assert loaded is not None
    assert loaded.access_token == "shared"


def test_redis_is_imported_only_when_a_redis_store_is_built() -> None:
    import subprocess
    import sys

    script = (
        "import sys, auth_plugins\n"
        "from auth_plugins import TeamUpAuth\n"
        "TeamUpAuth('a', 'b', direct_auth_key='k')\n"
        "print('redis' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert found.stdout.strip() == "False", found.stderr


# -- Redis going away ----------------------------------------------------------------------


def test_redis_stopped_mid_run_then_back(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth], own_redis_server: RedisServer
) -> None:
    # No back-off, so that the test need not wait for it (see the next test for the back-off).
    store = RedisTokenStore(own_redis_server.url, retry_interval=0)
    auth = up2money_auth(token_store=store)
    url = sandbox.up2money_url + "/managed_accounts"
    session = requests.Session()
    session.auth = auth
    assert session.get(url, timeout=10).status_code == 200

    own_redis_server.stop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        statuses = []
        for i in range(6):
            if i == 3:
                sandbox.revoke_tokens("up2money")  # a re-login while Redis is away
            statuses.append(session.get(url, timeout=10).status_code)
    assert statuses == [200] * 6
    assert sandbox.logins("up2money") == 2
    outage = [w for w in caught if issubclass(w.category, StoreUnavailableWarning)]
    assert len(outage) == 1
    assert "keeps its tokens in memory" in str(outage[0].message)

    own_redis_server.start()
    sandbox.revoke_tokens("up2money")
    assert session.get(url, timeout=10).status_code == 200
    # The new token went to Redis again: another store reading Redis sees it.
    reader = RedisTokenStore(own_redis_server.url)
    stored = reader.load(auth.key)
    assert stored is not None
    assert auth.token is not None
    assert stored.access_token == auth.token.access_token


def test_after_a_failure_redis_is_left_alone_for_the_back_off(
    own_redis_server: RedisServer,
) -> None:
    store = RedisTokenStore(own_redis_server.url, retry_interval=3600)
    own_redis_server.stop()
    with pytest.warns(StoreUnavailableWarning):
        store.save(KEY, Token("kept-here"))
    own_redis_server.start()
    RedisTokenStore(own_redis_server.url).save(KEY, Token("in-redis"))
    # Within the back-off the store does not try Redis: it reads its own memory.
    loaded = store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "kept-here"
    with store.lock(KEY):  # the lock, too, is this process's only
        assert own_redis_server.client().keys("*lock*") == []


# -- the sliding window is shared ----------------------------------------------------------


def test_a_token_kept_alive_by_one_process_is_alive_for_the_others(
    sandbox: Sandbox, up2money_auth: Callable[..., Up2MoneyAuth], redis_url: str
) -> None:
    store: TokenStore = RedisTokenStore(redis_url)
    assert store.persistent
    first = up2money_auth(token_store=store)
    second = up2money_auth(token_store=store)
    token = first.get_token()
    t0 = token.last_used or token.issued_at
    seen = second.get_token()
    assert seen.access_token == token.access_token
    # The first process uses the token 200 s on: past a tenth of the window, so saved.
    first._renewal.note_use(token, t0 + 200)
    # 350 s on, the second process's own copy looks idle-expired (300 s window)...
    assert second._renewal.token is not None
    assert second._renewal.token.is_expired(0, t0 + 350)
    # ...but the store says it was used at +200: no login.
    again = second._renewal.current(now=t0 + 350)
    assert again is not None
    assert again.access_token == token.access_token
    assert sandbox.login_attempts("up2money") == 1
