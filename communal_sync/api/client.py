"""The Communal API client: typed calls, documented errors, retries, nothing else.

``CommunalClient`` wraps one ``httpx.Client`` (it does not subclass it) and is safe to
share between worker threads: httpx's connection pool is thread-safe and the client's
own state (warnings already shown) is behind a lock. Pass ``transport=`` to swap the
network out in tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx

from communal_sync import __version__
from communal_sync.api.deadline import deadline_passed, deadline_transport, request_deadline
from communal_sync.api.models import (
    ApiModel,
    CustomProfileField,
    CustomProfileFieldValue,
    MembershipPage,
    ProgramSignup,
    Transaction,
    User,
    parse_model,
)
from communal_sync.api.responses import (
    check_status,
    decode_json,
    parse_membership_page,
    parse_page,
    unwrap_resource,
    version_warnings,
)
from communal_sync.api.retry import RetryPolicy, call_with_retries
from communal_sync.api.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_REQUEST_DEADLINE,
    ENV_REQUEST_DEADLINE,
    MASK,
    MEMBERSHIPS_API_VERSION,
    ApiKey,
    ApiSettings,
    check_api_version,
    check_base_url,
    version_for,
)
from communal_sync.errors import ApiError, RateLimited, TransportError, UnexpectedResponse

DEFAULT_MAX_PAGES: Final = 1000
"""A list longer than this many pages is taken for a server that never stops paging."""
MEMBERSHIP_PAGE_SIZE: Final = 500
"""``page[size]`` for ``/user_memberships``: the documented maximum, so the fewest pages."""
TRANSACTION_PAGE_SIZE: Final = 100
"""``page[size]`` for the transaction search (undocumented maximum: a modest page)."""
USER_AGENT: Final = f"communal-sync/{__version__}"
FIELD_CLEARED_MESSAGE: Final = "Profile field cleared"

M = TypeVar("M", bound=ApiModel)
logger = logging.getLogger("communal_sync.api")

# Errors raised before any byte could reach the server: retrying them cannot duplicate a write.
_NEVER_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _log_warning(message: str) -> None:
    logger.warning("%s", message)


def _do_nothing() -> None:
    return None


def _ignore_rate_limit(retry_after: float | None) -> None:
    return None


class CommunalClient:
    """Typed access to the few Communal endpoints communal-sync uses.

    ``before_request`` runs before every attempt and ``on_rate_limited`` on every 429
    (with the Retry-After seconds), so a shared throttle can be plugged in later.
    """

    def __init__(
        self,
        api_key: ApiKey | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        on_warning: Callable[[str], None] = _log_warning,
        before_request: Callable[[], None] = _do_nothing,
        on_rate_limited: Callable[[float | None], None] = _ignore_rate_limit,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        self._key = api_key if isinstance(api_key, ApiKey) else ApiKey(api_key)
        self.base_url = check_base_url(base_url)
        self.api_version = check_api_version(api_version)
        self.retry = retry or RetryPolicy()
        self.max_pages = max_pages
        self.request_deadline = request_deadline
        self._on_warning = on_warning
        self._before_request = before_request
        self._on_rate_limited = on_rate_limited
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._tls = httpx.create_ssl_context() if transport is None else None
        self._local = threading.local()
        self._clients: list[tuple[threading.Thread, httpx.Client]] = []
        self._closed = False
        # A given transport (tests, the embedded sandbox) is shared: one client over it.
        self._shared = None if transport is None else self._new_client(transport)
        self._http_client()  # the calling thread's, made now so settings fail early

    def _new_client(self, transport: httpx.BaseTransport) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {self._key.reveal()}",
                "Accept": "application/json",
                "X-Api-Version": self.api_version,
                "User-Agent": USER_AGENT,
            },
            timeout=self._timeout,
            transport=transport,
            follow_redirects=False,
            cookies=_refusing_cookie_jar(),
        )

    def _http_client(self) -> httpx.Client:
        """This thread's ``httpx.Client``, each over its own connection pool (one TLS
        context shared), so concurrent requests do not queue on one pool's lock; each
        worker keeps its own keep-alive connection. The clients of threads that ended (a
        finished pool's) are closed when the next one is made, and all by ``close``."""
        if self._shared is not None:
            return self._shared
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is not None:
            return client
        client = self._new_client(deadline_transport(self._tls))
        with self._lock:
            if self._closed:
                client.close()
                raise RuntimeError("The Communal client is closed.")
            ended = [c for thread, c in self._clients if not thread.is_alive()]
            self._clients = [(t, c) for t, c in self._clients if t.is_alive()]
            self._clients.append((threading.current_thread(), client))
        for old in ended:
            old.close()
        self._local.client = client
        return client

    @classmethod
    def from_settings(cls, settings: ApiSettings, **options: Any) -> CommunalClient:
        """A client for resolved ``settings``; ``options`` are the other constructor keywords."""
        return cls(
            settings.api_key,
            base_url=settings.base_url,
            api_version=settings.api_version,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            request_deadline=settings.request_deadline,
            **options,
        )

    def __repr__(self) -> str:
        return (
            f"CommunalClient(base_url={self.base_url!r}, api_key={self._key!r}, "
            f"api_version={self.api_version!r})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's connection pool; the client cannot be used afterwards."""
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, []
        for _, client in clients:
            client.close()
        if self._shared is not None:
            self._shared.close()

    # -- users ------------------------------------------------------------------------

    def get_user(self, user_id: int) -> User:
        """``GET /users/{id}``: a ``UserResource``, which carries no address fields."""
        subject = f"user {user_id}"
        body = self._request("GET", f"/users/{int(user_id)}", subject=subject)
        return parse_model(User, unwrap_resource(body, subject), subject)

    def update_user(self, user_id: int, body: Mapping[str, object]) -> User:
        """``PUT /users/{id}``: the full ``User`` after the update, address fields included.

        ``body`` must carry first_name, last_name and email; omitted optional fields
        are left unchanged and ``None`` clears one.
        """
        subject = f"user {user_id}"
        answer = self._request("PUT", f"/users/{int(user_id)}", subject=subject, json=dict(body))
        return parse_model(User, unwrap_resource(answer, subject), subject)

    # -- custom profile fields --------------------------------------------------------

    def list_custom_profile_fields(self) -> list[CustomProfileField]:
        """Every custom profile field definition of the organization, all pages."""
        return self._list(
            "/custom_profile_fields", {}, CustomProfileField, "the custom profile fields"
        )

    def list_custom_profile_field_values(self, user_id: int) -> list[CustomProfileFieldValue]:
        """Every custom profile field value of one user, all pages."""
        return self._list(
            "/custom_profile_field_values",
            {"filter[user_id]": int(user_id)},
            CustomProfileFieldValue,
            f"the custom profile field values of user {user_id}",
        )

    def create_custom_profile_field_value(
        self, user_id: int, field_id: int, value: str | None
    ) -> CustomProfileFieldValue | None:
        """``POST /custom_profile_field_values``; None when the API says the field was cleared.

        Not idempotent: retried only on a 429 or when the connection never opened.
        """
        subject = f"custom profile field {field_id} of user {user_id}"
        payload = {"value": value, "user_id": int(user_id), "custom_profile_field_id": field_id}
        body = self._request(
            "POST", "/custom_profile_field_values", subject=subject, json=payload, idempotent=False
        )
        return _field_value_or_none(body, subject)

    def update_custom_profile_field_value(
        self, value_id: int, user_id: int, field_id: int, value: str | None
    ) -> CustomProfileFieldValue | None:
        """``PUT /custom_profile_field_values/{id}``; an empty value clears it (None back)."""
        subject = f"custom profile field value {value_id} of user {user_id}"
        payload = {"value": value, "user_id": int(user_id), "custom_profile_field_id": field_id}
        body = self._request(
            "PUT", f"/custom_profile_field_values/{int(value_id)}", subject=subject, json=payload
        )
        return _field_value_or_none(body, subject)

    # -- program signups, transactions, memberships ---------------------------------------

    def search_program_signups(
        self, query: str, *, user_id: int | None = None, signup_status: str | None = None
    ) -> list[ProgramSignup]:
        """Program signups whose user name or email matches ``query``, users embedded.

        A way to find a user id from an email, for people with a signup; all pages are
        fetched. From 2026-08-25 cancelled signups are hidden unless ``signup_status``
        (``active``, ``cancelled``, ``cancelled:member``, ``cancelled:admin``) says so;
        a request with it is sent as at least that version.
        """
        params: dict[str, str | int] = {"filter[query]": query, "include": "user"}
        if user_id is not None:
            params["filter[user_id]"] = int(user_id)
        minimum = None
        if signup_status is not None:
            params["filter[signup_status]"] = signup_status
            minimum = MEMBERSHIPS_API_VERSION
        return self._list(
            "/program_signups", params, ProgramSignup, "the program signup search", minimum
        )

    def search_transactions(self, query: str) -> list[Transaction]:
        """Transactions whose owner's name or email matches ``query`` (from 2026-08-25).

        Each names its owner; ``owner.user_id`` is the user behind it, if any. All pages
        are fetched; the request is sent as at least 2026-08-25.
        """
        return self._list(
            "/transactions",
            {"filter[query]": query, "page[size]": TRANSACTION_PAGE_SIZE},
            Transaction,
            "the transaction search",
            MEMBERSHIPS_API_VERSION,
            page_parameter="page[number]",
        )

    def list_user_memberships(
        self, page: int, *, size: int = MEMBERSHIP_PAGE_SIZE
    ) -> MembershipPage:
        """One page of ``GET /user_memberships`` (from 2026-08-25), every membership held.

        No filter is sent: which rows an unfiltered list holds (expired ones?) is the
        API's default. Sent as at least 2026-08-25, whatever the pinned version.
        """
        subject = f"page {page} of the user memberships"
        body = self._request(
            "GET",
            "/user_memberships",
            subject=subject,
            params={"page[number]": int(page), "page[size]": int(size)},
            version=version_for(self.api_version, MEMBERSHIPS_API_VERSION),
        )
        return parse_membership_page(body, subject, page, size)

    # -- plumbing -----------------------------------------------------------------------

    def _list(
        self,
        path: str,
        params: Mapping[str, str | int],
        model: type[M],
        subject: str,
        minimum_version: str | None = None,
        *,
        page_parameter: str = "page",
    ) -> list[M]:
        items: list[M] = []
        page = 1
        version = version_for(self.api_version, minimum_version)
        while True:
            query = dict(params) if page == 1 else {**params, page_parameter: page}
            body = self._request("GET", path, subject=subject, params=query, version=version)
            parsed = parse_page(body, subject, page)
            items.extend(parse_model(model, item, subject) for item in parsed.items)
            if parsed.current_page >= parsed.last_page:
                return items
            page += 1
            if page > self.max_pages:
                raise UnexpectedResponse(
                    f"The API kept paging {subject} past {self.max_pages} pages; "
                    "stopping in case it never ends."
                )

    def _request(
        self,
        method: str,
        path: str,
        *,
        subject: str,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, object] | None = None,
        idempotent: bool = True,
        version: str | None = None,
    ) -> Any:
        asked = version or self.api_version

        def attempt() -> Any:
            self._before_request()
            response = self._send(method, path, subject, params, json, asked)
            self._surface_warnings(response, asked)
            try:
                check_status(response, subject, self._redact)
            except RateLimited as error:
                self._on_rate_limited(error.retry_after)
                raise
            return decode_json(response, subject, self._redact)

        def log_retry(error: ApiError, failed: int, seconds: float) -> None:
            logger.info(
                "%s %s failed (%s); retrying in %.1fs (attempt %d of %d).",
                method,
                path,
                type(error).__name__,
                seconds,
                failed + 1,
                self.retry.attempts,
            )

        return call_with_retries(
            attempt, policy=self.retry, idempotent=idempotent, on_retry=log_retry
        )

    def _send(
        self,
        method: str,
        path: str,
        subject: str,
        params: Mapping[str, str | int] | None,
        json: Mapping[str, object] | None,
        version: str,
    ) -> httpx.Response:
        headers = None if version == self.api_version else {"X-Api-Version": version}
        with request_deadline(self.request_deadline):
            try:
                return self._http_client().request(
                    method, path, params=params, json=json, headers=headers
                )
            except httpx.TimeoutException as error:
                if not deadline_passed():
                    raise self._transport_error(error, subject) from None
                raise TransportError(
                    f"No complete answer from the API for {subject} at {self.base_url} within "
                    f"{self.request_deadline:g} s, the deadline for one request "
                    f"({ENV_REQUEST_DEADLINE}). Check the network and the base URL.",
                    may_have_reached_server=not isinstance(error, _NEVER_SENT),
                ) from None
            except httpx.TransportError as error:
                raise self._transport_error(error, subject) from None
            except (httpx.DecodingError, httpx.TooManyRedirects) as error:
                raise UnexpectedResponse(
                    f"The API answer for {subject} could not be read ({type(error).__name__})."
                ) from None

    def _transport_error(self, error: httpx.TransportError, subject: str) -> TransportError:
        # Raised ``from None``: the httpx error holds the request, headers and key included.
        return TransportError(
            f"No usable answer from the API for {subject} at {self.base_url} "
            f"({type(error).__name__}: {self._redact(str(error)) or 'no detail'}). "
            "Check the network and the base URL.",
            may_have_reached_server=not isinstance(error, _NEVER_SENT),
        )

    def _surface_warnings(self, response: httpx.Response, asked: str) -> None:
        for message in version_warnings(response, asked):
            text = self._redact(message)
            with self._lock:
                if text in self._warned:
                    continue
                self._warned.add(text)
            self._on_warning(text)

    def _redact(self, text: str) -> str:
        secret = self._key.reveal()
        return text.replace(secret, MASK) if secret else text


class _RefusingCookieJar(CookieJar):
    """A jar that never takes a cookie: ``Set-Cookie`` is not even parsed (httpx offers
    every answer to the jar, which cost ~20 us per request to refuse it cookie by cookie)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _refusing_cookie_jar() -> CookieJar:
    # A bearer-key API needs no cookies; a session cookie set by the server would make
    # requests from different threads depend on each other.
    return _RefusingCookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _field_value_or_none(body: Any, subject: str) -> CustomProfileFieldValue | None:
    resource = unwrap_resource(body, subject)
    if "id" not in resource and resource.get("message") == FIELD_CLEARED_MESSAGE:
        return None
    return parse_model(CustomProfileFieldValue, resource, subject)
