"""The token object (defined in :mod:`auth_plugins.core.tokens`)."""

from __future__ import annotations

from .core.tokens import MAX_LEEWAY_SHARE, Token

__all__ = ["MAX_LEEWAY_SHARE", "Token"]
