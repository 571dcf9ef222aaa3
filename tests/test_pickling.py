"""Auths crossing process boundaries: pickled to workers, deep-copied; the store stays shared."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import requests

from auth_plugins import ConfigError, FileTokenStore, TeamUpAuth, TwoFactorRequired
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    Sandbox,
)
from auth_plugins.stores.redis import RedisTokenStore


def teamup(sandbox: Sandbox, **options: object) -> TeamUpAuth:
    return TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=sandbox.teamup_url,
        **options,  # type: ignore[arg-type]
    )


def get_status(auth: TeamUpAuth, url: str) -> int:
    """Run in a worker process: one request with the auth it was sent."""
    return requests.get(url, auth=auth, timeout=30).status_code


def in_workers(auth: TeamUpAuth, url: str, count: int) -> list[int]:
    # Fork: the workers need not import this test module; the auth is still
    # pickled to them with every task, which is what is tested.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        return list(pool.map(get_status, [auth] * count, [url] * count))


def test_an_auth_with_the_default_store_pickles_and_deep_copies(sandbox: Sandbox) -> None:
    auth = teamup(sandbox)
    url = f"{sandbox.teamup_url}/customers"
    assert requests.get(url, auth=auth, timeout=10).status_code == 200
    for twin in (pickle.loads(pickle.dumps(auth)), copy.deepcopy(auth)):
        assert isinstance(twin, TeamUpAuth)
        assert requests.get(url, auth=twin, timeout=10).status_code == 200
    assert "alice-password" not in repr(pickle.loads(pickle.dumps(auth)))


def test_workers_sent_an_auth_with_a_file_store_share_one_login(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "cache")
    auth = teamup(sandbox, token_store=store)
    assert auth.get_token()  # logged in here; the workers find the token on disk
    url = f"{sandbox.teamup_url}/customers"
    assert in_workers(auth, url, 3) == [200, 200, 200]
    assert sandbox.logins("teamup") == 1
    twin = pickle.loads(pickle.dumps(auth))
    assert twin.token_store.directory == store.directory


def test_workers_sent_an_auth_with_a_redis_store_share_it(sandbox: Sandbox, redis_url: str) -> None:
    auth = teamup(sandbox, token_store=RedisTokenStore(redis_url))
    assert auth.get_token()
    url = f"{sandbox.teamup_url}/customers"
    assert in_workers(auth, url, 3) == [200, 200, 200]
    assert sandbox.logins("teamup") == 1
    twin = copy.deepcopy(auth)
    assert twin.token_store.load(auth.key) == auth.token_store.load(auth.key)


def test_a_redis_store_built_on_a_client_says_how_to_pickle_it(redis_url: str) -> None:
    import redis

    store = RedisTokenStore(redis.Redis.from_url(redis_url))
    with pytest.raises(TypeError, match="URL"):
        pickle.dumps(store)


def test_errors_pickle_with_what_the_next_step_needs() -> None:
    error = TwoFactorRequired("2fa", pending_login_id="p1", providers=[1, 2], hint="h")
    back = pickle.loads(pickle.dumps(error))
    assert (back.pending_login_id, back.providers, str(back)) == ("p1", [1, 2], str(error))
    assert isinstance(pickle.loads(pickle.dumps(ConfigError("c"))), ConfigError)
