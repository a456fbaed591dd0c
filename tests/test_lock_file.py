"""requirements.lock, which `make install` installs with --require-hashes, holds exactly the pins of the
requirements files people edit, and every package in it has its hashes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_lock_pins_what_the_requirements_files_pin() -> None:
    locked = pins(ROOT / "requirements.lock")
    for source in ("requirements.txt", "requirements-dev.txt", "examples/streamlit_tip/requirements.txt"):
        for name, version in pins(ROOT / source).items():
            assert locked.get(name) == version, f"{source} pins {name}=={version}, the lock has " \
                                                f"{locked.get(name)}: run `make lock`"


def test_every_locked_package_has_a_hash() -> None:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    packages = [b for b in blocks if PIN.match(b)]
    assert len(packages) > 50  # transitive dependencies too, not only the direct pins
    assert [b.split()[0] for b in packages if "--hash=sha256:" not in b] == []
    options = [line for line in text.splitlines() if line.startswith("-")]
    assert options == []  # no --find-links or --index-url: nothing machine-local


def test_the_client_lock_has_hashes_and_the_main_locks_versions() -> None:
    """requirements-client.lock (the TIP client's `pip install .`, checked by tests/test_client_install.py) is
    compiled against requirements.lock, so the client runs on the versions the project tests."""
    client = pins(ROOT / "requirements-client.lock")
    main = pins(ROOT / "requirements.lock")
    assert {"boto3", "botocore", "pyjwt", "setuptools"} <= set(client)
    assert {name: v for name, v in client.items() if name in main and main[name] != v} == {}
    text = (ROOT / "requirements-client.lock").read_text(encoding="utf-8")
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(b)]
    assert [b.split()[0] for b in blocks if "--hash=sha256:" not in b] == []
    assert "aws-cdk-lib" not in client and "pydantic" not in client
