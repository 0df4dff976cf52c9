"""A site written with Authlib (Debian's python3-authlib) logging in at cpx-idp.

Authlib does the OpenID Connect work: discovery (server_metadata_url), the authorization URL
with PKCE S256, state and nonce it generates, the token request with client_secret_basic, the
ID token checked against the JWKS (signature, iss, aud, exp, nonce), and userinfo. The browser's
part is the shared user agent (user-agent.mjs), run with the real host and the virtual card.

    python3 authlib_client.py login|wrong-nonce

Environment: CPX_OIDC_ISSUER, CPX_OIDC_CLIENT_ID, CPX_OIDC_CLIENT_SECRET,
CPX_OIDC_REDIRECT_URI, REQUESTS_CA_BUNDLE (the run's CA), and what user-agent.mjs needs.
Prints one JSON object: the checked ID token's claims and userinfo; with wrong-nonce, the
error Authlib raised for a nonce that is not the one it sent, then the claims it accepts with
the right one.
"""

import json
import os
import pathlib
import subprocess
import sys

from authlib.integrations.base_client.sync_app import BaseApp, OAuth2Mixin
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose.errors import JoseError


class Site(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's framework-independent client, as its Flask and Django integrations build it."""

    client_cls = OAuth2Session


class NoFramework:
    """The web framework Authlib's integrations would call on a token refresh (none here)."""

    def update_token(self, token, refresh_token=None, access_token=None):
        return None


def main(mode):
    env = os.environ
    issuer = env["CPX_OIDC_ISSUER"]
    redirect_uri = env["CPX_OIDC_REDIRECT_URI"]
    site = Site(
        NoFramework(),
        name="cpx-idp",
        client_id=env["CPX_OIDC_CLIENT_ID"],
        client_secret=env["CPX_OIDC_CLIENT_SECRET"],
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid profile",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    start = site.create_authorization_url(redirect_uri)
    user_agent = pathlib.Path(__file__).with_name("user-agent.mjs")
    callback = subprocess.run(
        ["node", str(user_agent), start["url"], redirect_uri],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    token = site.fetch_access_token(
        redirect_uri,
        authorization_response=callback,
        state=start["state"],
        code_verifier=start["code_verifier"],
    )
    result = {"authorization_url": start["url"], "callback": callback}
    if mode == "wrong-nonce":
        try:
            site.parse_id_token(token, nonce="not-the-nonce-that-was-sent")
            result["refused"] = None
        except JoseError as error:
            result["refused"] = {"error": error.error, "description": error.description}
    result["id_token"] = dict(site.parse_id_token(token, nonce=start["nonce"]))
    result["userinfo"] = dict(site.userinfo(token=token))
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("login", "wrong-nonce"):
        sys.exit(__doc__)
    try:
        main(sys.argv[1])
    except subprocess.CalledProcessError as failure:
        sys.exit("user agent failed: " + failure.stderr)
