"""Transport and browser-policy hooks: https only, security headers, no cross-site writes."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Flask, abort, current_app, redirect, request, session
from werkzeug.wrappers import Response

from webapp.errors import UnreadableReferer

# Every script, style and image is served from /static, so nothing inline is needed and
# an injected <script> or style attribute does not run. Plugins, <base> rewrites, framing
# and form posts to other origins have no use here either.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
# The site uses no device features; an injected script must not get them either.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"
# Sign-out also wipes what the browser kept for the site: cached account pages and local
# storage. Not "cookies": that would delete the device cookie too, and the owner would be an
# untrusted client, open to anyone's lockout, after every sign-out. The session and
# remember-me cookies, the ones that sign in, are deleted by name (identity.sign_out).
CLEAR_SITE_DATA = '"cache", "storage"'
# Load balancers probe over plain http inside the network and expect a 200.
HEALTH_CHECK_PATH = "/healthz"
# Methods that change nothing (RFC 9110 9.2.1); everything else needs a same-site origin.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Characters kept as they are when a redirect re-encodes a path or query (RFC 3986 pchar and
# query, as Werkzeug's request.url keeps them); "%" is kept in the query, which arrives encoded.
PATH_SAFE = "!$&'()*+,/:;=@"
QUERY_SAFE = "!$&'()*+,/:;=?@%"


def init_app(app: Flask) -> None:
    """Register the hooks; call before other extensions so these hooks run first."""
    # Before CSRFProtect and Flask-Limiter: plain http is redirected before a token is
    # checked or an attempt is counted, and a cross-site write gets 403 rather than 400.
    app.before_request(require_https)
    app.before_request(refuse_cross_site_writes)
    # After-request hooks run in reverse order, so registered first this one runs last
    # and sees the remember cookie that Flask-Login's own hook sets or deletes.
    app.after_request(add_security_headers)


def require_https() -> Response | None:
    """Send plain-http requests to the same path on PUBLIC_URL's https origin with a 308."""
    if not current_app.config["FORCE_HTTPS"] or request.scheme != "http":
        return None
    if request.path == HEALTH_CHECK_PATH:
        return None
    # request.scheme already reflects X-Forwarded-Proto when ProxyFix trusts the proxy. The
    # host comes from PUBLIC_URL, never from Host or X-Forwarded-Host, which the client (or a
    # poisoned cache) chooses. Werkzeug has decoded the path: re-encoded, it is the path the
    # app routed, and being appended to a fixed origin, "//evil.example" stays a path here.
    origin = urlsplit(current_app.config["PUBLIC_URL"]).netloc.rpartition("@")[2]
    target = f"https://{origin}{quote(request.script_root + request.path, safe=PATH_SAFE)}"
    if request.query_string:
        target += "?" + quote(request.query_string, safe=QUERY_SAFE)
    response = redirect(target, 308)
    # Browsers keep a 308 indefinitely unless told otherwise; this one follows PUBLIC_URL.
    response.headers["Cache-Control"] = "no-store"
    return response


def refuse_cross_site_writes() -> None:
    """Refuse a write another site's page started (Fetch Metadata); CSRF tokens stay too.

    A Referer or Origin that is no address is refused as well: Flask-WTF compares the
    Referer's port with the site's, and a port that is not a number would raise there.
    """
    if request.method in SAFE_METHODS:
        return
    # Browsers that predate Fetch Metadata send no header; the CSRF token still covers them.
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        abort(403)
    for name in ("Referer", "Origin"):
        if not _is_readable_address(request.headers.get(name)):
            raise UnreadableReferer()


def _is_readable_address(value: str | None) -> bool:
    if value is None:
        return True
    try:
        # Raises for a port that is no number or out of range, or a broken [IPv6] host.
        _ = urlsplit(value).port
    except ValueError:
        return False
    return True


def add_security_headers(response: Response) -> Response:
    """Add the security headers to every response, error pages and static files included."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    # A view may need a stricter policy (a reset page with its token in the URL).
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # For browsers that ignore frame-ancestors.
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY

    hsts_seconds = current_app.config["HSTS_SECONDS"]
    # Browsers ignore HSTS over http, and development runs on http://127.0.0.1 with 0.
    if hsts_seconds > 0 and request.is_secure:
        headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"

    # Every dynamic page shows or sets session state; only static files may be cached.
    # Flask writes the session cookie after all after_request hooks, so a modified
    # session stands for a Set-Cookie that is not in the headers yet.
    if request.endpoint != "static" or "Set-Cookie" in headers or session.modified:
        headers["Cache-Control"] = "no-store"

    # Only a completed sign-out (its redirect), not a refused one (400 without a token).
    if request.endpoint == "auth.logout" and 300 <= response.status_code < 400:
        headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response
