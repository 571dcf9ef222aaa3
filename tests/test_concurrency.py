"""One login under any concurrency: threads sharing an auth, processes sharing a token folder.

The sandbox counts logins, so each test states its result as a number.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Callable

import pytest
import requests
from helpers import VendorAuth, Workers, run_threads, session_with, vendor_url

from auth_plugins import MemoryTokenStore, TeamUpAuth
from auth_plugins.sandbox import Sandbox

THREADS = 32
REQUESTS_EACH = 20
PROCESSES = 8
#: An API call of each vendor's, counted by ``sandbox.api_calls``.
API_PATHS = {"teamup": "/customers", "up2money": "/managed_accounts"}


@pytest.fixture(autouse=True)
def no_rate_limit(sandbox: Sandbox) -> None:
    # 32 x 20 requests in a second is far above TeamUp's 250 a minute.
    sandbox.teamup.config.rate_limit_per_minute = 1_000_000
    sandbox.up2money.config.rate_limit_per_minute = 1_000_000


@pytest.mark.parametrize("vendor", ["teamup"])
def test_threads_sharing_one_auth_log_in_once(
    sandbox: Sandbox, vendor_auth: VendorAuth, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    url = vendor_url(sandbox, vendor) + API_PATHS[vendor]
    start = threading.Barrier(THREADS)
    statuses: list[int] = []

    def work() -> None:
        session = session_with(auth)
        start.wait(timeout=30)  # all threads meet the empty token at the same moment
        for _ in range(REQUESTS_EACH):
            statuses.append(session.get(url, timeout=30).status_code)

    run_threads(THREADS, work)

    assert statuses == [200] * (THREADS * REQUESTS_EACH)
    assert sandbox.login_attempts(vendor) == 1
    assert sandbox.api_calls(vendor) == THREADS * REQUESTS_EACH


# Both vendors: TeamUp renews through a (refused) refresh, up2money by password only.
@pytest.mark.parametrize("vendor", ["teamup", "up2money"])
def test_tokens_revoked_under_32_threads_make_one_relogin(
    sandbox: Sandbox, vendor_auth: VendorAuth, vendor: str
) -> None:
    auth = vendor_auth(vendor)
    url = vendor_url(sandbox, vendor) + API_PATHS[vendor]

    # The last thread to arrive revokes every token; then all 32 go on at once,
    # each holding the revoked token: 32 rejections meet one lock.
    def revoke() -> None:
        sandbox.revoke_tokens(vendor)

    halfway = threading.Barrier(THREADS, action=revoke)
    statuses: list[int] = []

    def work() -> None:
        session = session_with(auth)
        for i in range(REQUESTS_EACH):
            if i == REQUESTS_EACH // 2:
                halfway.wait(timeout=30)
            statuses.append(session.get(url, timeout=30).status_code)

    run_threads(THREADS, work)

    assert statuses == [200] * (THREADS * REQUESTS_EACH)
    # One first login, one re-login (TeamUp's refresh token is revoked too, so its
    # refresh is refused once and the password used once).
    assert sandbox.logins(vendor) == 2
    assert sandbox.login_attempts(vendor) == 2
    assert sandbox.refreshes(vendor) == 0


#: One process: wait for "go" on stdin, make one authenticated request, print its status.
WORKER = textwrap.dedent(
    """
    import sys
    import requests
    from auth_plugins import FileTokenStore, TeamUpAuth
    from auth_plugins.sandbox import (
        DEMO_TEAMUP_DIRECT_AUTH_KEY, DEMO_TEAMUP_PASSWORD, DEMO_TEAMUP_USERNAME,
    )

    base_url, folder = sys.argv[1], sys.argv[2]
    auth = TeamUpAuth(
        DEMO_TEAMUP_USERNAME,
        DEMO_TEAMUP_PASSWORD,
        direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
        base_url=base_url,
        token_store=FileTokenStore(folder),
    )
    print("ready", flush=True)
    sys.stdin.readline()
    print(requests.get(base_url + "/customers", auth=auth, timeout=60).status_code, flush=True)
    """
)


def test_processes_sharing_a_file_store_log_in_once(sandbox: Sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "tokens"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, sandbox.teamup_url, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(PROCESSES)
    ]
    try:
        # Imports done everywhere before any starts: they meet the empty cache together.
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=60)[0].strip() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    assert outputs == ["200"] * PROCESSES
    assert sandbox.login_attempts("teamup") == 1
    assert sandbox.api_calls("teamup") == PROCESSES


def test_two_users_do_not_wait_for_each_other(
    sandbox: Sandbox, teamup_auth: Callable[..., TeamUpAuth]
) -> None:
    store = MemoryTokenStore()
    alice = teamup_auth(token_store=store)
    bob = teamup_auth(username="bob@example.com", password="bob-password", token_store=store)
    url = sandbox.teamup_url + "/customers"
    statuses: list[int] = []

    # Hold alice's lock, as a slow login of hers would; bob must not queue behind it.
    workers = Workers()
    with store.lock(alice.key):
        thread = workers.start(
            lambda: statuses.append(requests.get(url, auth=bob, timeout=10).status_code)
        )
        thread.join(timeout=10)
        finished_while_held = not thread.is_alive()
    workers.join()  # bounded; fails the test if bob's request raised

    assert finished_while_held
    assert statuses == [200]
    assert sandbox.logins("teamup", "bob@example.com") == 1
