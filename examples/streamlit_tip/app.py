"""Sales data as the signed-in user: Streamlit, an external OIDC IdP and trusted identity propagation (seed 002).

Run from the repository root (see README.md next to this file):

    .venv/bin/streamlit run examples/streamlit_tip/app.py

Without an IdP (TIP_OIDC_ISSUER unset, or TIP_MODE=preview) it runs in preview mode: pick a persona and see
its rows from the project's offline access preview (`preview_page.py`), with no AWS and no sign-in.

Settings (environment variables):

    TIP_MODE                optional: preview or sign-in (default: sign-in when TIP_OIDC_ISSUER is set, else preview)
    TIP_PREVIEW_ENV         optional: the environment whose access model preview mode shows (default demo)
    TIP_OIDC_ISSUER         the IdP's issuer URL; endpoints come from <issuer>/.well-known/openid-configuration
    TIP_OIDC_CLIENT_ID      the client id of the app registered in the IdP (also in identity_propagation.audiences)
    TIP_OIDC_CLIENT_SECRET  optional: its client secret, for a confidential client (never shown or logged)
    TIP_OIDC_CLIENT_SECRET_ARN  optional, instead: a Secrets Manager secret holding it (the plain secret, or JSON
                            with a `client_secret` key), read at each sign-in with the app's AWS credentials
    TIP_OIDC_REDIRECT_URI   optional: the redirect URI registered in the IdP (default http://localhost:8501)
    TIP_CDK_OUTPUTS_FILE    optional: a `cdk deploy --outputs-file` JSON (default cdk-outputs.json)
    TIP_STACK_PREFIX        optional: the environment's stack prefix, e.g. Demo for env demo (default Demo)
    TIP_QUERY               optional: the SQL to run (default SELECT * FROM public.sales_data ORDER BY sku LIMIT 100)

Sign-in is the OAuth 2.0 authorization code flow with PKCE on Authlib (`oidc.py`); the id token it yields is
verified (signature against the IdP's JWKS, iss, aud, exp, nonce), then goes to
`redshift_idc.client.tip.TipSession`, which turns it into an identity-enhanced AWS session, so Redshift
applies the user's IdC groups' roles and row-level security to the query. Tokens are never shown.

Test seams: tests put these into `st.session_state` before a run (the app never sets them):
    "tip_example.http_adapter"     a `requests` transport adapter that answers every call to the IdP
    "tip_example.session_factory"  `(id_token, TipClientConfig) -> TipSession` instead of `TipSession.from_id_token`
    "tip_example.secretsmanager"   a boto3 secretsmanager client, instead of a new one, for the client secret
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st
from requests.adapters import BaseAdapter

# `streamlit run` puts only this file's folder on sys.path; the example imports the project's library.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from examples.streamlit_tip import oidc, preview_page  # noqa: E402
from examples.streamlit_tip.text import plain as _plain  # noqa: E402
from redshift_idc.client.result import Cell, QueryResult  # noqa: E402
from redshift_idc.client.tip import TipClientConfig, TipError, TipSession  # noqa: E402

DEFAULT_REDIRECT_URI = "http://localhost:8501"
DEFAULT_OUTPUTS_FILE = "cdk-outputs.json"
DEFAULT_STACK_PREFIX = "Demo"
DEFAULT_QUERY = "SELECT * FROM public.sales_data ORDER BY sku LIMIT 100"

HTTP_ADAPTER_KEY = "tip_example.http_adapter"
SESSION_FACTORY_KEY = "tip_example.session_factory"
SECRETSMANAGER_KEY = "tip_example.secretsmanager"
_SESSION = "tip_example.session"
_RESULT = "tip_example.result"
_FLOW_STATE = "tip_example.flow_state"
_PROVIDER = "tip_example.provider"

SessionFactory = Callable[[str, TipClientConfig], TipSession]


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str | None = field(repr=False)
    client_secret_arn: str | None
    redirect_uri: str
    outputs_file: Path
    stack_prefix: str
    query: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def value(name: str, default: str = "") -> str:
            return environ.get(name, "").strip() or default

        missing = [name for name in ("TIP_OIDC_ISSUER", "TIP_OIDC_CLIENT_ID") if not value(name)]
        if missing:
            raise SettingsError(f"Set {' and '.join(missing)} (see examples/streamlit_tip/README.md)")
        secret, secret_arn = value("TIP_OIDC_CLIENT_SECRET") or None, value("TIP_OIDC_CLIENT_SECRET_ARN") or None
        if secret and secret_arn:
            raise SettingsError("Set TIP_OIDC_CLIENT_SECRET or TIP_OIDC_CLIENT_SECRET_ARN, not both: the client "
                                "secret itself, or the Secrets Manager secret that holds it")
        if secret_arn:
            try:
                oidc.secret_region(secret_arn)
            except oidc.OidcError as error:
                raise SettingsError(f"TIP_OIDC_CLIENT_SECRET_ARN: {error}") from None
        return cls(
            issuer=value("TIP_OIDC_ISSUER"),
            client_id=value("TIP_OIDC_CLIENT_ID"),
            client_secret=secret,
            client_secret_arn=secret_arn,
            redirect_uri=value("TIP_OIDC_REDIRECT_URI", DEFAULT_REDIRECT_URI),
            outputs_file=Path(value("TIP_CDK_OUTPUTS_FILE", DEFAULT_OUTPUTS_FILE)),
            stack_prefix=value("TIP_STACK_PREFIX", DEFAULT_STACK_PREFIX),
            query=value("TIP_QUERY", DEFAULT_QUERY),
        )


@st.cache_resource
def pending_flows() -> oidc.PendingFlows:
    """One store per server process: the IdP's redirect back arrives in a new Streamlit session."""
    return oidc.PendingFlows()


@st.cache_resource
def signing_keys() -> oidc.SigningKeys:
    """The IdP's JWKS, fetched once per server process and refreshed as `oidc.SigningKeys` says."""
    return oidc.SigningKeys()


def _http_adapter() -> BaseAdapter | None:
    adapter = st.session_state.get(HTTP_ADAPTER_KEY)
    return adapter if isinstance(adapter, BaseAdapter) else None


def _session_factory() -> SessionFactory:
    factory: SessionFactory = st.session_state.get(SESSION_FACTORY_KEY) or TipSession.from_id_token
    return factory


def _provider(settings: Settings) -> oidc.ProviderMetadata:
    cached = st.session_state.get(_PROVIDER)
    if isinstance(cached, oidc.ProviderMetadata) and cached.issuer.rstrip("/") == settings.issuer.rstrip("/"):
        return cached
    metadata = oidc.discover(settings.issuer, adapter=_http_adapter())
    st.session_state[_PROVIDER] = metadata
    return metadata


def _client_secret(settings: Settings) -> str | None:
    """The client secret for this sign-in: from Secrets Manager (read each time, so a rotated secret is picked
    up), from the environment, or none (a public client, PKCE only)."""
    if settings.client_secret_arn:
        client: Any = st.session_state.get(SECRETSMANAGER_KEY)
        return oidc.read_client_secret(settings.client_secret_arn, client=client)
    return settings.client_secret


def sign_out() -> None:
    for key in (_SESSION, _RESULT, _FLOW_STATE):
        st.session_state.pop(key, None)


def handle_redirect(settings: Settings, config: TipClientConfig) -> None:
    """Back from the IdP with `code` and `state` (or `error`): check the state, redeem the code, build the
    identity-enhanced session. The query parameters are removed first: a code is good for one try only."""
    params = {key: st.query_params.get(key) or "" for key in ("code", "state", "error", "error_description")}
    st.query_params.clear()
    if params["error"]:
        if params["state"]:
            pending_flows().take(params["state"])
        reason = f"{params['error'][:100]} {params['error_description'][:300]}".strip()
        st.error(f"The identity provider did not sign you in: {_plain(reason)}")
        return
    flow = pending_flows().take(params["state"]) if params["state"] else None
    if flow is None or not params["code"]:
        st.error("Sign-in refused: the `state` that came back does not match a sign-in this app started (or it "
                 f"is older than {oidc.FLOW_TTL_SECONDS / 60:g} minutes or was used already). Sign in again.")
        return
    if st.session_state.get(_FLOW_STATE) == flow.state:
        del st.session_state[_FLOW_STATE]
    try:
        id_token = oidc.exchange_code(_provider(settings), code=params["code"], flow=flow,
                                      client_id=settings.client_id, redirect_uri=settings.redirect_uri,
                                      keys=signing_keys(), client_secret=_client_secret(settings),
                                      adapter=_http_adapter())
        session = _session_factory()(id_token, config)
    except (oidc.OidcError, TipError) as error:
        st.error(str(error))
        return
    sign_out()
    st.session_state[_SESSION] = session


def show_sign_in(settings: Settings) -> None:
    st.write("Sign in with your organization's identity provider to see the sales data you may see.")
    try:
        metadata = _provider(settings)
    except oidc.OidcError as error:
        st.error(str(error))
        return
    flows = pending_flows()
    state = st.session_state.get(_FLOW_STATE)
    flow = flows.get(state) if isinstance(state, str) else None
    if flow is None:  # one flow per visit, renewed when it expires
        flow = flows.start()
        st.session_state[_FLOW_STATE] = flow.state
    url = oidc.authorization_url(metadata, client_id=settings.client_id, redirect_uri=settings.redirect_uri,
                                 flow=flow)
    # An HTML link so the IdP opens in this tab (Streamlit opens markdown links in a new one).
    st.markdown(f'<a href="{html.escape(url, quote=True)}" target="_self">Sign in</a>', unsafe_allow_html=True)


def show_data(session: TipSession, settings: Settings) -> None:
    """Who is signed in and the rows Redshift lets them see (row-level security applies)."""
    header = st.empty()  # emptied again if the session has to be dropped
    with header.container():
        st.success(f"Signed in as {_plain(session.who)}")
        left, right = st.columns(2)
        if left.button("Sign out"):
            sign_out()
            st.rerun()
        refresh = right.button("Run the query again")
    result = st.session_state.get(_RESULT)
    if refresh or not isinstance(result, QueryResult):
        try:
            result = session.query(settings.query)
        except TipError as error:
            if "sign in again" in str(error):
                header.empty()
                sign_out()
                st.error(str(error))
                show_sign_in(settings)
            else:
                st.error(str(error))
            return
        st.session_state[_RESULT] = result
    if session.expiration is not None:
        st.caption(f"Identity-enhanced AWS session until {session.expiration:%Y-%m-%d %H:%M:%S %Z}; renewed while "
                   "your sign-in is valid.")
    st.code(settings.query, language="sql")
    if not result.columns:
        st.info("The statement returned no result set.")
        return
    st.write(f"{len(result.rows)} row{'' if len(result.rows) == 1 else 's'} visible to you:")
    st.dataframe(_columns(result), hide_index=True)


def _columns(result: QueryResult) -> dict[str, list[Cell]]:
    """The result by column, for st.dataframe; a repeated column name gets a suffix instead of hiding one."""
    table: dict[str, list[Cell]] = {}
    for i, name in enumerate(result.columns):
        unique, n = name, 1
        while unique in table:
            n += 1
            unique = f"{name}_{n}"
        table[unique] = [row[i] if i < len(row) else None for row in result.rows]
    return table


def mode(environ: Mapping[str, str]) -> str:
    """`preview` or `sign-in`: TIP_MODE if set, else sign-in only when an IdP is configured."""
    chosen = environ.get("TIP_MODE", "").strip().lower()
    if chosen in ("preview", "sign-in"):
        return chosen
    if chosen:
        raise SettingsError(f"TIP_MODE is {chosen!r}: use preview or sign-in")
    return "sign-in" if environ.get("TIP_OIDC_ISSUER", "").strip() else "preview"


def main() -> None:
    st.set_page_config(page_title="Sales data as you", layout="wide")
    try:
        chosen = mode(os.environ)
    except SettingsError as error:
        st.error(str(error))
        return
    if chosen == "preview":
        preview_page.show(os.environ.get("TIP_PREVIEW_ENV", "").strip() or preview_page.DEFAULT_ENVIRONMENT)
        return
    st.title("Sales data, as the signed-in user")
    try:
        settings = Settings.from_env(os.environ)
        config = TipClientConfig.from_outputs(settings.outputs_file, settings.stack_prefix)
    except (SettingsError, TipError) as error:
        st.error(str(error))
        return
    if "code" in st.query_params or "error" in st.query_params:
        handle_redirect(settings, config)
    session = st.session_state.get(_SESSION)
    if isinstance(session, TipSession):
        show_data(session, settings)
    else:
        show_sign_in(settings)


main()
