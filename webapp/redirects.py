"""Where it is safe to send someone after signing in."""

from __future__ import annotations

from urllib.parse import unquote


def _is_local_path(target: str) -> bool:
    # Browsers read "\" as "/", so "/\evil.example" is protocol-relative to them.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    # A single leading "/" leaves no room for a scheme ("x:") or a host ("//host").
    return target.startswith("/") and not target.startswith("//")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (raw and once-decoded), else None."""
    if not target or not _is_local_path(target) or not _is_local_path(unquote(target)):
        return None
    return target
