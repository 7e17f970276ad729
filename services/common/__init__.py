"""Plumbing every service shares: logging, typed publishing, command handling."""
