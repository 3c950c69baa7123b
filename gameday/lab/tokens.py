"""The lab's Google OAuth2 token endpoint and the service-account key file it honours.

Why: Managed Prometheus wants a bearer token that expires (1 h on Google, 60 s on the fast
profile), and the harness must get and renew it exactly as on GKE: google-auth reads a
service-account key (`GOOGLE_APPLICATION_CREDENTIALS`), signs a JWT assertion (RS256) and POSTs
it to the key's `token_uri` with grant type jwt-bearer (RFC 7523). The lab writes such a key,
whose `token_uri` is this endpoint on 127.x, checks each assertion's signature against the key
it issued (with google-auth's own verifier), and hands out random tokens that it alone can
check (`Tokens.valid`). Nothing here ever reaches Google.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_PATH = "/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
"""The audience google-auth writes into every assertion, whatever the key's token_uri (it is
only a claim, checked here: no request goes to that address)."""
READ_SCOPES = frozenset({"https://www.googleapis.com/auth/monitoring.read",
                         "https://www.googleapis.com/auth/monitoring",
                         "https://www.googleapis.com/auth/cloud-platform"})
ACCOUNT = "gameday-harness"


def write_key(path: Path, project: str, token_uri: str) -> dict[str, Any]:
    """Write a service-account key shaped like Google's (a new RSA key each lab start), 0600;
    return its content. `token_uri` must be loopback: the key must never send anyone to Google."""
    if not token_uri.startswith("http://127."):
        raise ValueError(f"token_uri {token_uri!r} must be http://127.x.y.z:PORT/...")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    key = {"type": "service_account", "project_id": project,
           "private_key_id": secrets.token_hex(20), "private_key": pem,
           "client_email": f"{ACCOUNT}@{project}.iam.gserviceaccount.com",
           "client_id": str(secrets.randbelow(10**21)), "token_uri": token_uri}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(key, indent=2))
    return key


def _public_pem(key: dict[str, Any]) -> str:
    private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    return private.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Tokens:
    """Access tokens handed out for one key, each valid for `lifetime_s` (server clock)."""

    def __init__(self, key: dict[str, Any], lifetime_s: float) -> None:
        self.email = key["client_email"]
        self.token_uri = key["token_uri"]
        self.lifetime_s = lifetime_s
        self._certs = {key["private_key_id"]: _public_pem(key)}
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def grant(self, assertion: str) -> dict[str, Any]:
        """Verify a jwt-bearer assertion; a new token (ValueError saying why not)."""
        from google.auth import jwt

        claims = jwt.decode(assertion, certs=self._certs,
                            audience=[GOOGLE_AUDIENCE, self.token_uri])
        if claims.get("iss") != self.email:
            raise ValueError(f"assertion issued by {claims.get('iss')!r}, not {self.email!r}")
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes & READ_SCOPES:
            raise ValueError(f"scopes {sorted(scopes)} do not allow reading metrics (need "
                             "monitoring.read)")
        now = time.time()
        # forget long-dead tokens, but not so soon that a late one is not told "expired"
        self._expiry = {t: e for t, e in self._expiry.items()
                        if e > now - 10 * self.lifetime_s}
        token = "ya29.lab-" + secrets.token_urlsafe(32)
        self._expiry[token] = now + self.lifetime_s
        self.issued += 1
        return {"access_token": token, "expires_in": int(self.lifetime_s),
                "token_type": "Bearer"}

    def check(self, authorization: str | None) -> str | None:
        """None if the `Authorization` header carries a live token, else why not."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "the request has no 'Authorization: Bearer <token>' header"
        expiry = self._expiry.get(token.strip())
        if expiry is None:
            return "the access token is not one this endpoint issued"
        if expiry <= time.time():
            return f"the access token expired {time.time() - expiry:.0f} s ago"
        return None


TOKENS_KEY = web.AppKey("gameday_lab_tokens", Tokens)


async def token(request: web.Request) -> web.Response:
    """POST /token: Google's OAuth2 token endpoint for a service account's JWT assertion."""
    tokens = request.app[TOKENS_KEY]
    form = await request.post()
    if form.get("grant_type") != JWT_BEARER:
        return _refusal("unsupported_grant_type", f"grant_type must be {JWT_BEARER}")
    try:
        return web.json_response(tokens.grant(str(form.get("assertion", ""))))
    except ValueError as exc:  # google.auth.jwt raises ValueError (MalformedError) too
        return _refusal("invalid_grant", f"Invalid JWT: {exc}")


def _refusal(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


def add_routes(app: web.Application, tokens: Tokens) -> None:
    app[TOKENS_KEY] = tokens
    app.router.add_post(TOKEN_PATH, token)
