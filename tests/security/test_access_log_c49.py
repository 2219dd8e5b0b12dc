"""The access log never holds the one-time token of an emailed link (item 49)."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]


def _gunicorn_conf() -> Any:
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/password/reset/AbC-123_xyz", "/password/reset/[token]"),
        ("/register/verify/AbC-123_xyz", "/register/verify/[token]"),
        ("/password/reset", "/password/reset"),
        ("/login?next=/account", "/login?next=/account"),
    ],
)
def test_c49_access_log_lines_hide_link_tokens(path: str, shown: str) -> None:
    conf = _gunicorn_conf()
    logger = conf.RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": path.split("?")[0],
        "QUERY_STRING": "",
        "HTTP_REFERER": f"https://signup.example{path}",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])

    atoms = logger.atoms(response, [], environ, timedelta(milliseconds=5))

    assert atoms["r"] == f"GET {shown} HTTP/1.1"
    assert atoms["U"] == shown.split("?")[0]
    assert atoms["f"] == f"https://signup.example{shown}"
    assert "AbC-123_xyz" not in " ".join(str(v) for v in atoms.values())


def test_c49_gunicorn_uses_the_redacting_logger() -> None:
    conf = _gunicorn_conf()

    assert conf.logger_class is conf.RedactingLogger
