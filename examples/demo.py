"""The demo: both vendors through requests and HTTPie, against a local sandbox.

Run it with ``./dev demo``. It starts the sandbox on a free loopback port and
shows, with the sandbox's own counters:

1. many requests through one auth make one login per vendor;
2. after the sandbox revokes every token, the next request is answered 401,
   the auth logs in again once and resends it, and the caller sees a 200;
3. two ``http`` runs in a row: the second reuses the stored token.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from auth_plugins import MemoryTokenStore, TeamUpAuth, Up2MoneyAuth
from auth_plugins.sandbox import (
    DEMO_TEAMUP_DIRECT_AUTH_KEY,
    DEMO_TEAMUP_PASSWORD,
    DEMO_TEAMUP_USERNAME,
    DEMO_UP2MONEY_EMAIL,
    DEMO_UP2MONEY_PASSWORD,
    DEMO_UP2MONEY_SECRET,
    Sandbox,
)

CALLS = 20


def run_vendor(sandbox: Sandbox, vendor: str, session: requests.Session, url: str) -> None:
    print(f"\n== {vendor} via requests: {url}")
    statuses = {session.get(url).status_code for _ in range(CALLS)}
    print(f"{CALLS} GETs -> status {sorted(statuses)}, logins so far: {sandbox.logins(vendor)}")
    revoked = sandbox.revoke_tokens(vendor)
    print(f"sandbox revoked {revoked} token(s)")
    response = session.get(url)
    history = [r.status_code for r in response.history]
    print(
        f"next GET -> {response.status_code} (history {history}: refused, logged in again, "
        f"resent), logins so far: {sandbox.logins(vendor)}"
    )


def run_httpie(sandbox: Sandbox) -> None:
    http = shutil.which("http") or str(Path(sys.executable).parent / "http")
    if not Path(http).exists():
        print("\n(HTTPie is not installed: pip install 'auth-plugins[httpie]' to see it here)")
        return
    with tempfile.TemporaryDirectory() as cache:
        env = {
            **os.environ,
            "TEAMUP_BASE_URL": sandbox.teamup_url,
            "TEAMUP_DIRECT_AUTH_KEY": DEMO_TEAMUP_DIRECT_AUTH_KEY,
            "TEAMUP_USERNAME": "bob@example.com",
            "TEAMUP_PASSWORD": "bob-password",
            "AUTH_PLUGINS_CACHE_DIR": cache,
            "HTTPIE_CONFIG_DIR": cache,
        }
        url = sandbox.teamup_url + "/customers"
        print(f"\n== teamup via HTTPie: http --auth-type teamup {url}")
        for run in (1, 2):
            before = sandbox.logins("teamup", "bob@example.com")
            done = subprocess.run(
                [http, "--ignore-stdin", "--print=h", "--auth-type", "teamup", "GET", url],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            status_line = done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()
            made = sandbox.logins("teamup", "bob@example.com") - before
            print(f"http run {run}: {status_line}; logins made by this run: {made}")


def run_httpx(sandbox: Sandbox) -> None:
    """The same auth class in an httpx.AsyncClient: 20 tasks at once make one login."""
    try:
        import httpx
    except ImportError:
        print("\n(httpx is not installed: pip install 'auth-plugins[httpx]' to see it here)")
        return
    url = sandbox.up2money_url + "/managed_accounts"
    print(f"\n== up2money via httpx.AsyncClient: {url}")
    auth = Up2MoneyAuth(
        DEMO_UP2MONEY_EMAIL,
        DEMO_UP2MONEY_PASSWORD,
        secret=DEMO_UP2MONEY_SECRET,
        base_url=sandbox.up2money_url,
        token_store=MemoryTokenStore(),  # not the one the requests session above used
    )
    before = sandbox.logins("up2money")

    async def calls() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            answers = await asyncio.gather(*(client.get(url) for _ in range(CALLS)))
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(calls())
    made = sandbox.logins("up2money") - before
    print(f"{CALLS} concurrent GETs -> status {sorted(set(statuses))}, logins made: {made}")


def main() -> int:
    with Sandbox() as sandbox:
        print(f"sandbox running at {sandbox.url}")
        teamup = requests.Session()
        teamup.auth = TeamUpAuth(
            DEMO_TEAMUP_USERNAME,
            DEMO_TEAMUP_PASSWORD,
            direct_auth_key=DEMO_TEAMUP_DIRECT_AUTH_KEY,
            base_url=sandbox.teamup_url,
        )
        run_vendor(sandbox, "teamup", teamup, sandbox.teamup_url + "/customers")

        up2money = requests.Session()
        up2money.auth = Up2MoneyAuth(
            DEMO_UP2MONEY_EMAIL,
            DEMO_UP2MONEY_PASSWORD,
            secret=DEMO_UP2MONEY_SECRET,
            base_url=sandbox.up2money_url,
        )
        run_vendor(sandbox, "up2money", up2money, sandbox.up2money_url + "/managed_accounts")

        run_httpx(sandbox)
        run_httpie(sandbox)

        print("\n== sandbox counters")
        print(f"{'vendor':<10} {'logins':>6} {'refreshes':>9} {'API calls':>9}")
        for vendor in ("teamup", "up2money"):
            print(
                f"{vendor:<10} {sandbox.logins(vendor):>6} {sandbox.refreshes(vendor):>9} "
                f"{sandbox.api_calls(vendor):>9}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
