"""No secret is committed to the repository (checklist item c34, the scanning part).

The start-up checks of SECRET_KEY itself are tested in tests/unit/test_config.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from webapp.config import SAMPLE_SECRET_KEYS

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache"}
SKIPPED_DIRS |= {".ruff_cache", ".hypothesis", "instance", "htmlcov"}
CONFIG_SUFFIXES = {".py", ".env", ".cfg", ".toml", ".ini", ".yml", ".yaml"}

# Each pattern is written so that its own source text does not match it.
PATTERNS = {
    "private key block": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "GitHub fine-grained token": re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9_/]+"),
}
QUOTED_SECRET_KEY = re.compile(
    r"""\bSECRET_KEY\b['"]?\]?\s*[:=]\s*[rbu]?(?P<quote>['"])(?P<value>[^'"\n]*)(?P=quote)"""
)
ENV_SECRET_KEY = re.compile(r"""^\s*(?:export\s+)?SECRET_KEY\s*=\s*(?P<value>[^'"\s#]+)""", re.M)
MIN_LITERAL = 16


def _is_env_file(path: PurePosixPath) -> bool:
    return path.suffix == ".env" or path.name.startswith(".env")


def _may_hold_a_secret_key(path: PurePosixPath) -> bool:
    """Config and code outside tests/ (the tests build random keys at run time)."""
    if path.parts and path.parts[0] == "tests":
        return False
    return path.suffix in CONFIG_SUFFIXES or _is_env_file(path)


def scan(path: PurePosixPath, content: str) -> list[str]:
    """The secrets found in one file, as ``path:line: kind``."""
    found = []
    for kind, pattern in PATTERNS.items():
        found += [(kind, match.start()) for match in pattern.finditer(content)]
    if _may_hold_a_secret_key(path):
        patterns = (
            [QUOTED_SECRET_KEY, ENV_SECRET_KEY] if _is_env_file(path) else [QUOTED_SECRET_KEY]
        )
        for pattern in patterns:
            for match in pattern.finditer(content):
                value = match.group("value").strip()
                if len(value) >= MIN_LITERAL and value.lower() not in SAMPLE_SECRET_KEYS:
                    found.append(("SECRET_KEY literal", match.start()))
    return [f"{path}:{content.count(chr(10), 0, at) + 1}: {kind}" for kind, at in sorted(found)]


def repository_files() -> list[PurePosixPath]:
    """Tracked files plus untracked ones that are not ignored: what a commit could contain.

    Falls back to walking the tree when git is not available (e.g. an unpacked archive).
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return [
            PurePosixPath(path.relative_to(REPO_ROOT).as_posix())
            for path in REPO_ROOT.rglob("*")
            if path.is_file()
            and not SKIPPED_DIRS.intersection(path.relative_to(REPO_ROOT).parts[:-1])
        ]
    return [PurePosixPath(name) for name in sorted(set(listed.decode().split("\0"))) if name]


def test_c34_no_secret_is_committed() -> None:
    files = repository_files()
    assert PurePosixPath("webapp/config.py") in files

    found = []
    for name in files:
        path = REPO_ROOT / name
        if path.is_file():  # a tracked file may be deleted in the working tree
            found += scan(name, path.read_bytes().decode("utf-8", errors="replace"))

    assert found == []


def test_c34_instance_and_env_files_are_ignored_and_untracked() -> None:
    lines = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    entries = {line.strip().strip("/") for line in lines if not line.startswith("#")}

    assert "instance" in entries
    assert ".env" in entries
    files = repository_files()
    assert not [f for f in files if f.parts[0] == "instance"]
    assert PurePosixPath(".env") not in files


def _fake(*pieces: str) -> str:
    """Joined at run time, so the repository never contains the fake secret itself."""
    return "".join(pieces)


FAKES = [
    ("notes/key.pem", _fake("-----BEGIN ", "RSA PRIVATE", " KEY-----\nMIIE\n"), "private key"),
    ("notes/key.pem", _fake("-----BEGIN ", "PRIVATE", " KEY-----\n"), "private key"),
    ("deploy.sh", _fake("aws_access_key_id = AK", "IA", "Q" * 16, "\n"), "AWS"),
    ("README.md", _fake("token: gh", "p_", "a1B2" * 9, "\n"), "GitHub token"),
    ("notify.py", _fake('SLACK = "xo', "xb-", "1234567890-abcdefghij", '"\n'), "Slack token"),
    ("webapp/settings.py", _fake('SECRET_KEY = "', "k" * 20, '"\n'), "SECRET_KEY"),
    ("webapp/settings.py", _fake('config["SECRET_KEY"] = \'', "k" * 20, "'\n"), "SECRET_KEY"),
    ("conf/app.toml", _fake('SECRET_KEY = "', "k" * 32, '"\n'), "SECRET_KEY"),
    ("deploy/app.yml", _fake('SECRET_KEY: "', "k" * 32, '"\n'), "SECRET_KEY"),
    (".env", _fake("SECRET_KEY=", "k" * 40, "\n"), "SECRET_KEY"),
    (".env.production", _fake("export SECRET_KEY=", "k" * 40, "\n"), "SECRET_KEY"),
]
HARMLESS = [
    ("tests/test_x.py", _fake('SECRET_KEY = "', "k" * 20, '"\n')),
    ("webapp/config.py", 'SECRET_KEY = os.environ.get("SECRET_KEY", "").strip() or None\n'),
    ("webapp/config.py", 'settings.update(SECRET_KEY="testing-" + secrets.token_hex(32))\n'),
    (".env.example", "SECRET_KEY=\n# SECRET_KEY=<generate one>\n"),
    (".env.example", "SECRET_KEY=change-me-to-a-long-random-string-of-at-least-32-bytes\n"),
    (
        "README.md",
        "export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')\n",
    ),
]


@pytest.mark.parametrize(("name", "content", "kind"), FAKES, ids=[f[0] for f in FAKES])
def test_c34_the_scanner_finds_a_planted_secret(name: str, content: str, kind: str) -> None:
    found = scan(PurePosixPath(name), "first line\n" + content)

    assert len(found) == 1, found
    assert found[0].startswith(f"{name}:2: ")
    assert kind in found[0]


@pytest.mark.parametrize(("name", "content"), HARMLESS, ids=[h[0] for h in HARMLESS])
def test_c34_the_scanner_ignores_harmless_lines(name: str, content: str) -> None:
    assert scan(PurePosixPath(name), content) == []


def test_c34_without_git_the_tree_is_walked_minus_the_virtualenv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_git(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)

    files = repository_files()

    assert PurePosixPath("webapp/config.py") in files
    assert PurePosixPath("tests/security/test_repository_c34.py") in files
    assert not [f for f in files if f.parts[0] in SKIPPED_DIRS]
