"""Where it is safe to send someone after signing in."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def _is_local_path(target: str) -> bool:
    # Browsers read "\" as "/", so "/\evil.example" is protocol-relative to them.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (raw and once-decoded), else None."""
    if not target or not _is_local_path(target) or not _is_local_path(unquote(target)):
        return None
    return target
