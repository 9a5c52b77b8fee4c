"""Access control (README "Serving a request", step 3): API keys first, then user tokens, then the
endpoint's rule.

`Gatekeeper` is built once per app from the project (hashed keys, secret, issuer); `check_access`
answers one request with a `Verdict` and never raises for what a caller sent. With `[users]` on, a
token must also be a current session (`Sessions.is_current`). A state-changing request whose user
comes from the cookie must come from the site itself (README "Users": CSRF), else it is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from epctl.runtime.request import Request
from epctl.runtime.same_site import is_same_site
from epctl.runtime.tokens import MissingSecretError, decode_token, read_secret
from epctl.schemas.models import ApiKey, Endpoint
from epctl.schemas.project import Project

if TYPE_CHECKING:
    from epctl.runtime.sessions import Sessions

BEARER = "bearer "
TOKEN_COOKIE = "authorization"
TOKEN_QUERY = "authorization"
KEY_QUERY = "apikey"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Every API key and user token a request presented, each in transport order (duplicates once).

    A request is authenticated when ANY of them is valid: a stale `authorization` cookie beside a
    fresh header or `?authorization=` is the common browser case. `cookie` is the token the
    `authorization` cookie carried (a browser sends it on its own, so writes it signs in are checked
    for their origin).
    """

    api_keys: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    cookie: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """200 authorized, 401 missing or bad credentials, 403 a valid user outside the endpoint's groups.

    `user` is the token's claims whenever a valid token was presented, even on a public endpoint.
    """

    status: int
    user: dict[str, Any] | None = None
    # The token that signed the user in: the cookie's, or a header's or the query's.
    token: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


# The verdict on a public request that carries no credentials: one value, shared.
ANONYMOUS = Verdict(200)
# The verdict on a state-changing request signed in by the cookie that another site sent.
CROSS_SITE = Verdict(403)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def read_credentials(request: Request) -> Credentials:
    """Return every API key and user token of a request, in this order.

    API keys: an `Authorization` header that is not `Bearer ...`, then `?apikey=`. Tokens: `Session`
    header, `Authorization: Bearer`, cookie `authorization`, `?authorization=`.
    """
    environ = request.environ
    authorization = str(environ.get("HTTP_AUTHORIZATION", "")).strip()
    keys: list[str] = []
    tokens = [str(environ.get("HTTP_SESSION", "")).strip()]
    if authorization[: len(BEARER)].lower() == BEARER:
        tokens.append(authorization[len(BEARER) :].strip())
    else:
        keys.append(authorization)
    cookie = None
    if environ.get("HTTP_COOKIE"):
        cookie = request.cookies.get(TOKEN_COOKIE) or None
        tokens.append(cookie or "")
    if environ.get("QUERY_STRING"):
        keys.append(request.query.get(KEY_QUERY, ""))
        tokens.append(request.query.get(TOKEN_QUERY, ""))
    return Credentials(_present(keys), _present(tokens), cookie)


def _present(values: list[str]) -> tuple[str, ...]:
    # dict.fromkeys keeps the first of duplicates in order: a token sent twice is checked once.
    return tuple(dict.fromkeys(value for value in values if value))


class Gatekeeper:
    """Decides access for one project version; holds nothing that changes per request."""

    def __init__(self, project: Project) -> None:
        self.api_keys: tuple[ApiKey, ...] = tuple(project.api_keys)
        self.issuer = project.auth.issuer
        # Without any protected endpoint the secret is optional: tokens sent to public endpoints are
        # then simply not read, so a public site runs with no secret configured. Users sign in with
        # tokens, so `[users]` needs it too.
        protected = project.users is not None or any(e.access != "public" for e in project.endpoints)
        self.secret: str | None = read_secret(project) if protected else _optional_secret(project)
        # Set by the app when the project has `[users]`: tokens must then be current sessions.
        self.sessions: Sessions | None = None
        # Where a cookie-authenticated write may come from, besides the serving host itself.
        self.origins = frozenset(project.settings.allowed_origins)
        # Endpoints anyone may call: no token or key decides their verdict, only who the user is.
        self.open_ids = frozenset(
            endpoint.id
            for endpoint in project.endpoints
            if endpoint.access == "public" and not endpoint.api_key
        )

    def check_request(self, endpoint: Endpoint, request: Request) -> Verdict:
        """Return the verdict on `request` for `endpoint`, reading its credentials only when they
        can change it: a public request with none, or with no secret to read a token, is ANONYMOUS."""
        if endpoint.id in self.open_ids:
            if self.secret is None:
                return ANONYMOUS
            get = request.environ.get
            # Spelled out rather than a loop over the keys: this runs on every public request. A
            # query carries a token only under the name `authorization`, spelled out or escaped
            # (`?%61uthorization=`); any other query (`?page=2`) leaves the request anonymous.
            query = get("QUERY_STRING")
            if not (
                get("HTTP_AUTHORIZATION")
                or get("HTTP_SESSION")
                or get("HTTP_COOKIE")
                or (query and (TOKEN_QUERY in query or "%" in query))
            ):
                return ANONYMOUS
        credentials = read_credentials(request)
        verdict = self.check_access(endpoint, credentials)
        if (
            verdict.token is not None
            and verdict.token == credentials.cookie
            and request.method in UNSAFE_METHODS
            and not is_same_site(request.environ, self.origins)
        ):
            return CROSS_SITE
        return verdict

    def check_access(self, endpoint: Endpoint, credentials: Credentials) -> Verdict:
        """Return the verdict for a request with `credentials` on `endpoint`."""
        if endpoint.api_key and not any(self.key_allows(key, endpoint.id) for key in credentials.api_keys):
            return Verdict(401)
        user, token = self.read_user(credentials.tokens)
        if endpoint.access == "public":
            return Verdict(200, user, token)
        if user is None:
            return Verdict(401)
        if endpoint.access == "groups" and not set(endpoint.groups).intersection(user["groups"]):
            return Verdict(403, user, token)
        return Verdict(200, user, token)

    def key_allows(self, key: str, endpoint_id: str) -> bool:
        """Return whether `key` is a stored API key whose scope includes `endpoint_id`."""
        digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
        allowed = False
        # Every stored hash is compared, in constant time, whatever matched before: how long the check
        # takes says nothing about which key, if any, came close.
        for stored in self.api_keys:
            matched = hmac.compare_digest(digest, stored.sha256)
            in_scope = "*" in stored.endpoints or endpoint_id in stored.endpoints
            allowed |= matched and in_scope
        return allowed

    def read_user(self, tokens: tuple[str, ...]) -> tuple[dict[str, Any] | None, str | None]:
        """Return the claims of the first valid user token of `tokens` (a current session, where
        `[users]` is on) and that token; (None, None) when none is."""
        if self.secret is None:
            return None, None
        for token in tokens:
            claims = decode_token(token, self.secret, issuer=self.issuer)
            if claims is None:
                continue
            if self.sessions is not None and not self.sessions.is_current(claims):
                continue  # a session ended (password changed, user disabled): try the next credential
            return claims, token
        return None, None


def _optional_secret(project: Project) -> str | None:
    try:
        return read_secret(project)
    except MissingSecretError:
        return None
