"""The exceptions auth-plugins raises (defined in :mod:`auth_plugins.core.errors`)."""

from __future__ import annotations

from .core.errors import (
    AccountLocked,
    AuthPluginError,
    BodyNotReplayable,
    ConfigError,
    InvalidCredentials,
    LoginError,
    RateLimited,
    StepUpRequired,
    TwoFactorRequired,
)

__all__ = [
    "AccountLocked",
    "AuthPluginError",
    "BodyNotReplayable",
    "ConfigError",
    "InvalidCredentials",
    "LoginError",
    "RateLimited",
    "StepUpRequired",
    "TwoFactorRequired",
]
