"""The Streamlit example's preview mode: no AWS, no IdP, each persona's rows from the access preview.

Twice: in Streamlit's AppTest (in-process), and in a real headless Chromium against `streamlit run` on
127.0.0.1 (Debian's `chromium`; skipped, saying why, where it is not installed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import headless_chromium

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "examples" / "streamlit_tip" / "app.py"
SETTINGS = ("TIP_MODE", "TIP_PREVIEW_ENV", "TIP_OIDC_ISSUER", "TIP_OIDC_CLIENT_ID", "TIP_OIDC_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def no_idp(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def load(**query_params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query_params)
    return at.run()


def rows(at: AppTest) -> list[dict[str, object]]:
    assert len(at.table) == 1, [e.value for e in at.info]
    frame = at.table[0].value
    return list(frame.to_dict(orient="records"))


def test_without_an_idp_the_page_previews_each_personas_rows() -> None:
    at = load()
    assert not at.exception and not at.error
    assert at.title[0].value == "Sales data, as each persona would see it"
    persona = at.selectbox(key="preview.persona")
    assert persona.options == ["Ethan", "Frank", "Alex", "Ming", "Pat"]
    assert at.selectbox(key="preview.table").value == "public.sales_data"
    assert len(rows(at)) == 5  # Ethan, exec-global: IGNORE RLS
    persona.set_value("Frank").run()
    frank = rows(at)
    assert [r["timezone"] for r in frank] == ["America/Los_Angeles"]
    assert "1 of 5 sample rows visible to Frank:" in [m.value for m in at.markdown]
    assert any("RLS AND: amer\\_region\\_filter" in c.value for c in at.caption)  # why: the policy that applied
    at.selectbox(key="preview.persona").set_value("Alex").run()
    assert sorted(str(r["timezone"]).split("/")[0] for r in rows(at)) == ["Europe", "Europe"]


def test_a_persona_in_two_groups_sees_no_rows_and_a_denied_table_names_the_privilege() -> None:
    at = load(persona="pat")
    assert at.selectbox(key="preview.persona").value == "Pat" and not at.table
    assert [i.value for i in at.info][-1] == "Pat sees no rows of public.sales\\_data."
    at.selectbox(key="preview.table").set_value("finance_schema.revenue").run()
    assert len(at.error) == 1 and "may not read finance\\_schema.revenue: missing" in at.error[0].value
    assert at.query_params["table"] == "finance_schema.revenue"  # the URL keeps the choice


def test_an_unknown_persona_is_said_with_the_known_ones_and_no_one_is_shown_in_its_place() -> None:
    at = load(persona="Nobody")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No persona 'Nobody' in access/demo.yaml; choose one of the known: Ethan, Frank, Alex, Ming, Pat."]
    assert at.selectbox(key="preview.persona").value is None and not at.table  # not Ethan's rows
    at.selectbox(key="preview.persona").set_value("Frank").run()  # choosing one recovers the page
    assert not at.error and len(rows(at)) == 1
    assert at.query_params["persona"] == "Frank"


def test_an_unknown_environment_or_mode_is_an_error_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIP_PREVIEW_ENV", "nosuchenv")
    at = load()
    assert len(at.error) == 1 and "nosuchenv" in at.error[0].value and not at.exception
    monkeypatch.setenv("TIP_MODE", "demo-mode")
    assert load().error[0].value == "TIP_MODE is 'demo-mode': use preview or sign-in"


# --- a real browser --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    process = subprocess.Popen(  # noqa: S603 (this interpreter's streamlit, fixed arguments)
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310 (http)
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"streamlit did not start on {url}: {error[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_in_headless_chromium_the_personas_rows_are_rendered(server: str, tmp_path: Path) -> None:
    executable = headless_chromium.find()
    if executable is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium); the AppTest tests above cover the page")
    browser = headless_chromium.Chromium(executable, tmp_path / "profile")
    try:
        text = browser.page_text(f"{server}/?persona=Frank&table=public.sales_data",
                                 ("1 of 5 sample rows visible to Frank", "America/Los_Angeles"))
    finally:
        browser.close()
    assert "Sales data, as each persona would see it" in text
    assert "1 of 5 sample rows visible to Frank" in text
    assert "America/Los_Angeles" in text and "Europe/" not in text and "Asia/" not in text
