"""Listing and logout over a file store's folder: ``auth-plugins tokens`` and ``logout``.

Kept apart from :mod:`.file` so that a request, which only loads and saves
one token, does not import it.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Optional

from ..core.errors import ConfigError
from .base import TokenKey
from .file import INDEX_NAME
from .index import prune_index, read_index
from .token_file import CACHE_DIR_ENV, read_private_json, token_file_name


def folder_keys(directory: Path) -> list[TokenKey]:
    """The keys of every token file in ``directory`` that can be read, sorted.

    Names come from the folder's index of keys (one line per key, appended when
    a key's file is first written), checked against the token files present. A
    token file the index misses (an index lost or written by an older version)
    is read.
    """
    try:
        with os.scandir(directory) as entries:
            # Regular files only (the folder entry says, no extra call): a link
            # or a folder at a token's path is never read as its token.
            names = {
                entry.name
                for entry in entries
                if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False)
            }
    except (FileNotFoundError, NotADirectoryError):
        return []
    found: set[TokenKey] = set()
    for key in read_index(directory / INDEX_NAME):
        # An index line names a key only if that key's file is here: a stale
        # or tampered line cannot list a token that does not exist.
        name = token_file_name(key)
        if name in names:
            names.discard(name)
            found.add(key)
    for name in names:
        with contextlib.suppress(OSError, ValueError):
            parts = read_private_json(directory / name)
            parts = parts.get("key") if isinstance(parts, dict) else None
            # Three strings, as the store writes them; anything else names no key.
            if (
                isinstance(parts, list)
                and len(parts) == 3
                and all(isinstance(part, str) for part in parts)
            ):
                found.add(TokenKey(*parts))
    return sorted(found)


def clear_folder(directory: Path, vendor: Optional[str] = None) -> int:
    """Delete ``vendor``'s stored tokens (or everyone's); returns how many token files.

    Remembered refused logins, login counts and lock files go too (a logout is
    how a person clears them), and so do files that cannot be read (corrupt,
    or opened up to others) and temporary files a crash left behind: a logout
    leaves no token on disk.
    """
    if not directory.is_dir():
        return 0
    name = r"[^/\\]+" if vendor is None else re.escape(vendor)
    pattern = re.compile(
        rf"(?:{name}-[0-9a-f]{{32}}\.(?:json|failure|attempts|lock)|\.{name}-[0-9a-f]{{32}}\..*\.tmp"
        r"|\.keys\..*\.tmp)"  # an index rewrite a crash cut short (it names users)
    )
    removed = 0
    for path in directory.iterdir():
        if pattern.fullmatch(path.name):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                if path.is_dir():  # not a token, and never read as one: leave it
                    continue
                raise ConfigError(
                    f"cannot remove {path} ({exc.strerror or type(exc).__name__}); the token "
                    f"cache folder {directory} must be yours and writable, or set "
                    f"{CACHE_DIR_ENV} to one that is"
                ) from None
            if path.suffix == ".json":
                removed += 1
    prune_index(directory / INDEX_NAME, vendor)
    return removed
