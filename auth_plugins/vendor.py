"""Vendors as data (defined in :mod:`auth_plugins.core.vendor`)."""

from __future__ import annotations

from .core.templates import fill, fill_headers, template_names
from .core.vendor import Option, Vendor

__all__ = ["Option", "Vendor", "fill", "fill_headers", "template_names"]
