"""Adapters: each drives the core's login exchange over one HTTP client's connection."""
