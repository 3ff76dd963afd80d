"""The cluster as the plugin reaches it: kubeconfig as kubectl reads it, HTTP with retries, paginated LISTs, writes."""

from __future__ import annotations

import base64
import builtins
import functools
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kubectl_tke_net import decode
from kubectl_tke_net.i18n import _, ngettext
from kubectl_tke_net.kinds import Kind, Obj
from kubectl_tke_net.model import AccessError, AuthFailed, Unavailable
from kubectl_tke_net.sources import kubeconfig as kubeconfig_source
from kubectl_tke_net.sources.kubeconfig import short

PAGE_SIZE = 500
# The first bytes of a LIST page's body, read before the rest: the API server writes the List's metadata (its
# continue token) before the items.
HEAD_BYTES = 16 << 10
_PARTIAL_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
MIN_TIMEOUT, MAX_TIMEOUT = 0.001, 24 * 3600.0
# What an HTTP header value may not hold (urllib3 refuses it with an error that quotes the whole value).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Reads are sent again (urllib3's Retry) on these answers, and on connections reset or bodies cut off; writes never are.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 5
BACKOFF_BASE = 0.25  # seconds before the second attempt (on average 3/4 of it); doubles each time
BACKOFF_CAP = 4.0
MAX_RETRY_AFTER = 60.0
MAX_LIST_RESTARTS = 2
# Indirections so that tests can retry without sleeping and without chance.
_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic
_jitter: Callable[[], float] = random.random


def parse_duration(text: str) -> float | None:
    """kubectl's --request-timeout syntax: "30s", "1m", "1h2m", a bare number of seconds; 0 means none."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(_("invalid duration {text} (use e.g. 30s, 1m, 0)").format(text=repr(text)))
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * scale[u] for n, u in parts)
    if seconds and not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        # Past a day no request is worth waiting for, and far past it the sockets' timers overflow.
        raise ValueError(_("{text} is out of range (0 for none, else 1ms to 24h)").format(text=repr(text)))
    return seconds or None


class Cluster:
    """A connection to the API server of one kubeconfig context."""

    # Kinds a run needs are listed this many at a time (Snapshot.prefetch); each LIST stays paginated.
    parallel_reads = 4
    # list() gives objects as kinds.clean keeps them (Snapshot does not clean them again).
    cleaned = True

    def progress(self, kind: str, objects: int, pages: int) -> None:
        """Told of every LIST page read (the kind's plural name, objects on the page, pages of it so far);
        the command sets it to its progress line (render.Progress)."""

    def __init__(
        self,
        kubeconfig: str | None,
        context: str | None,
        request_timeout: float | None,
        impersonate: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.timeout = request_timeout
        # fail_fast (fleet runs): once a read found the server unreachable, hung or refusing the credentials, every
        # later read of the run says so at once, so that one bad cluster costs one request timeout, not one per kind.
        self.fail_fast = False
        self._broken: AccessError | None = None
        # -v diagnostics (self.log) stay in English, like kubectl's own -v output; only errors are translated.
        self.log = log or (lambda _msg: None)
        self.config, self.target = kubeconfig_source.load(kubeconfig, context)
        import urllib3

        self._urllib3 = urllib3
        cfg = self.config
        self.host = cfg.host.rstrip("/")
        # As kubectl (client-go) does: the user's credentials (token, username/password, client certificate) are
        # only used over TLS; to an http:// server none is sent.
        self.secure = self.host.startswith("https://")
        pool_args: dict[str, Any] = {
            "cert_reqs": "CERT_REQUIRED" if cfg.verify_ssl else "CERT_NONE",
            "ca_certs": cfg.ca_file,
            "cert_file": cfg.cert_file if self.secure else None,
            "key_file": cfg.key_file if self.secure else None,
            "retries": False,
            # Kept connections for the parallel LISTs and the page each asks for ahead, instead of a TLS
            # handshake for most pages.
            "maxsize": 2 * self.parallel_reads,
        }
        if cfg.tls_server_name:
            pool_args["server_hostname"] = cfg.tls_server_name
        if not cfg.verify_ssl:
            urllib3.disable_warnings()
        proxy = cfg.proxy or ""
        scheme, _sep, rest = proxy.partition("://")
        if proxy and scheme.lower() in ("socks5", "socks5h"):
            from urllib3.contrib.socks import SOCKSProxyManager

            # Go's SOCKS5 dialer, kubectl's, sends the host name for the proxy to resolve: socks5h.
            self.http: Any = SOCKSProxyManager("socks5h://" + rest, **pool_args)
        elif proxy:
            self.http = urllib3.ProxyManager(proxy, **pool_args)
        else:
            self.http = urllib3.PoolManager(**pool_args)
        self.headers = {"User-Agent": "kubectl-tke-net", "Accept": "application/json"}
        if impersonate:
            self.headers["Impersonate-User"] = impersonate
        self._auth()  # a credential that cannot be sent is named now, before any request

    def _auth(self) -> dict[str, str]:
        if not self.secure:
            return {}
        user = self.target.user
        owner = _('user "{name}"').format(name=user) if user else _("the in-cluster service account")
        cfg = self.config
        # A tokenFile usually ends in a newline, which kubectl trims and an HTTP header may not hold.
        token = (cfg.bearer() or "").strip()
        if token:
            if _CONTROL.search(token) or not token.isascii():
                # urllib3 would refuse the header with an error that quotes it: the token is never shown.
                raise AccessError(
                    _(
                        "{owner}: its token contains a line break, a control character or a "
                        "non-ASCII character; copy the token again, on one line, into the kubeconfig "
                        "or its tokenFile"
                    ).format(owner=owner)
                )
            return {"Authorization": f"Bearer {token}"}
        if cfg.username or cfg.password:
            if _CONTROL.search(f"{cfg.username or ''}{cfg.password or ''}"):
                raise AccessError(
                    _(
                        "{owner}: its username or password contains a line break or another control "
                        "character; fix them in the kubeconfig"
                    ).format(owner=owner)
                )
            pair = f"{cfg.username or ''}:{cfg.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        *,
        body: Any = None,
        content_type: str | None = None,
        accept: str | None = None,
        decode: Callable[[bytes], Any] = json.loads,
        head: Callable[[bytes], None] | None = None,
    ) -> tuple[int, Any]:
        """One API call; returns (status, decoded JSON). What cannot be answered raises AccessError.

        A successful GET's body is decoded by `decode` (a LIST page: decode.page, straight into the declared
        fields); a ValueError from it means the body is not the JSON it should be. `head`, when given, is called
        with the first HEAD_BYTES of a successful GET's body as soon as they have come, before the rest is read
        (a LIST's metadata, with its continue token, comes before its items); on a resend, again.

        A GET is sent again, with backoff, when the answer is a 429/5xx, a reset connection or a body that was
        cut off, for as long as the request timeout allows. Any other method is sent once: a write that broke
        off may have been applied, so sending it again blindly could apply it twice.
        """
        headers = {**self.headers, **self._auth()}
        if accept:
            headers["Accept"] = accept
        data = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            data = json.dumps(body).encode()
        url = self.host + path + ("?" + urlencode(query) if query else "")
        what = f"{method} {path}"
        if method != "GET":
            return self._write(what, url, data, headers)
        if self._broken is not None:  # fail_fast: the server already failed to answer a read of this run
            raise type(self._broken)(str(self._broken))
        try:
            return self._read(what, url, headers, decode, head)
        except AccessError as exc:
            if self.fail_fast and self._broken is None:
                self._broken = exc
            raise

    def _read(
        self,
        what: str,
        url: str,
        headers: dict[str, str],
        decode: Callable[[bytes], Any] = json.loads,
        head: Callable[[bytes], None] | None = None,
    ) -> tuple[int, Any]:
        started = _clock()
        budget = _Budget(what, url, started, started + self.timeout if self.timeout else None, self.log)
        while True:
            # urllib3's Retry sends it again on 429/5xx and broken connections; what comes back is an answer.
            resp = self._send(budget, url, headers, head)
            if resp.status in RETRY_STATUSES:
                raise self._gave_up(budget)  # Retry gave up: attempts or time ran out
            if resp.data is not None:  # None: a body _streamed read broke off, budget.why says how
                try:
                    payload = (decode if 200 <= resp.status < 300 else json.loads)(resp.data) if resp.data else None
                except (ValueError, RecursionError):
                    if not 200 <= resp.status < 300:
                        return resp.status, {"message": resp.data[:200].decode("utf-8", "replace")}
                    budget.why = _("the answer was cut off or is not JSON ({n} bytes)").format(n=len(resp.data))
                else:
                    if not 200 <= resp.status < 300 or isinstance(payload, dict):
                        return resp.status, payload
                    budget.why = _("the answer is not a JSON object")
            # A body that arrived whole but is not a JSON object, or one read after its head that broke off:
            # urllib3's Retry cannot see those, so they are resent here.
            budget.tries += 1
            delay = _backoff(budget.tries)
            if budget.tries >= MAX_ATTEMPTS or (budget.deadline is not None and _clock() + delay >= budget.deadline):
                raise self._gave_up(budget)
            self.log(f"retry {budget.tries} of {MAX_ATTEMPTS - 1}: {what} in {delay:.2f}s ({budget.why})")
            _sleep(delay)

    def _gave_up(self, budget: _Budget) -> AccessError:
        tries = ngettext("{n} attempt in {seconds}s", "{n} attempts in {seconds}s", budget.tries).format(
            n=budget.tries, seconds=f"{_clock() - budget.started:.1f}"
        )
        if budget.retry_after is not None:
            tries += _(" (the server asked to retry after {seconds}s, past the request timeout)").format(
                seconds=f"{budget.retry_after:g}"
            )
        return AccessError(
            _(
                "{what}: {why}, {tries}; the API server is unhealthy, overloaded or "
                "unreachable: try again later, or raise --request-timeout"
            ).format(what=budget.what, why=budget.why, tries=tries)
        )

    def _send(
        self, budget: _Budget, url: str, headers: dict[str, str], head: Callable[[bytes], None] | None = None
    ) -> Any:
        """A read, with urllib3's retries inside the budget; the answer, else AccessError naming the cause.

        Without `head` the whole body is read inside urllib3's retries. With it, urllib3 gives the answer back
        once its headers have come, and a successful one's body is read by _streamed (its .data is None when
        the body broke off: _read sends it again)."""
        exc_types = self._urllib3.exceptions
        retries = _retry(budget)
        timeout = _until(budget.deadline) if budget.deadline is not None else None
        budget.sent = time.monotonic()
        try:
            resp = self.http.request(
                "GET",
                url,
                headers=headers,
                timeout=timeout,
                retries=retries,
                redirect=False,
                preload_content=head is None,
            )
        except exc_types.MaxRetryError as exc:
            reason: Exception = exc.reason or exc
        except exc_types.HTTPError as exc:
            reason = exc
        else:
            if resp.status not in RETRY_STATUSES:  # an answer Retry gave up on was logged when it came
                budget.log_answer(resp.status)
            if resp.status == 401:
                raise AuthFailed(
                    _(
                        "authentication to {host} failed (401 Unauthorized); your credentials may have "
                        "expired: refresh the kubeconfig"
                    ).format(host=self.host)
                )
            if head is None:
                return resp
            return self._streamed(budget, resp, head if 200 <= resp.status < 300 else None)  # an error: whole
        if isinstance(reason, exc_types.NewConnectionError):
            # Checked first: urllib3 makes NewConnectionError a subclass of its TimeoutError.
            raise AccessError(
                _(
                    "cannot reach the API server at {host}: {reason}; check the kubeconfig context and your network"
                ).format(host=self.host, reason=short(reason))
            ) from reason
        if isinstance(reason, exc_types.TimeoutError):
            raise AccessError(
                _(
                    "{what}: the API server at {host} did not answer within the request timeout "
                    "({timeout}s); raise it with --request-timeout"
                ).format(what=budget.what, host=self.host, timeout=f"{self.timeout:g}")
            ) from reason
        if isinstance(reason, exc_types.SSLError):
            raise AccessError(
                _(
                    "TLS connection to {host} failed: {reason}; check certificate-authority (or "
                    "certificate-authority-data) of the cluster in the kubeconfig"
                ).format(host=self.host, reason=short(reason))
            ) from reason
        if isinstance(reason, exc_types.ProtocolError):
            raise self._gave_up(budget) from reason  # broke off on every attempt the budget allowed
        reason = getattr(reason, "reason", None) or reason
        raise AccessError(
            _("cannot reach the API server at {host}: {reason}; check the kubeconfig context and your network").format(
                host=self.host, reason=short(reason)
            )
        ) from reason

    def _streamed(self, budget: _Budget, resp: Any, head: Callable[[bytes], None] | None) -> _Answer:
        """An answer's body read after urllib3 gave it back: its first HEAD_BYTES go to `head` as soon as they have
        come (a LIST asks for its next page there, while this one still arrives), then the rest; without `head`,
        whole. A body that breaks off (reset, cut short, a read that times out) gives data None, and budget.why."""
        exc_types = self._urllib3.exceptions
        try:
            if head is None:
                data = resp.read()
            else:
                first = resp.read(HEAD_BYTES)
                head(first)
                data = first + resp.read()
        except (exc_types.HTTPError, OSError) as exc:
            budget.why = _("the connection broke off ({reason})").format(reason=short(exc))  # as Retry says it
            return _Answer(resp.status, None)
        finally:
            resp.release_conn()
        return _Answer(resp.status, data)

    def _write(self, what: str, url: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        """A write, sent exactly once: when it breaks off nobody knows whether the server applied it."""
        exc_types = self._urllib3.exceptions
        timeout = self._urllib3.Timeout(total=self.timeout) if self.timeout else None
        unknown = _("the change may or may not have been applied (it is never sent twice)")
        started = time.monotonic()
        try:
            resp = self.http.request(
                what.split(" ", 1)[0],
                url,
                body=data,
                headers=headers,
                timeout=timeout,
                retries=False,
                preload_content=True,
            )
        except exc_types.NewConnectionError as exc:
            raise AccessError(
                _("{what}: cannot reach the API server at {host}: {reason}; nothing was sent").format(
                    what=what, host=self.host, reason=short(exc)
                )
            ) from exc
        except exc_types.TimeoutError as exc:
            raise AccessError(
                _("{what}: no answer within the request timeout ({timeout}s); {unknown}").format(
                    what=what, timeout=f"{self.timeout:g}", unknown=unknown
                )
            ) from exc
        except exc_types.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise AccessError(
                _("{what}: the connection broke off before the answer ({reason}); {unknown}").format(
                    what=what, reason=short(reason), unknown=unknown
                )
            ) from exc
        self.log(
            f"{what}{'?' + url.split('?', 1)[1] if '?' in url else ''} -> {resp.status} "
            f"({(time.monotonic() - started) * 1000:.0f} ms)"
        )
        if resp.status == 401:
            raise AuthFailed(
                _(
                    "authentication to {host} failed (401 Unauthorized); your credentials may have "
                    "expired: refresh the kubeconfig"
                ).format(host=self.host)
            )
        try:
            payload = json.loads(resp.data) if resp.data else None
        except (ValueError, RecursionError):
            if 200 <= resp.status < 300:
                raise AccessError(
                    _("{what}: the API server answered {status} but its answer was cut off; {unknown}").format(
                        what=what, status=resp.status, unknown=unknown
                    )
                ) from None
            payload = {"message": resp.data[:200].decode("utf-8", "replace")}
        return resp.status, payload

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        """Every object of the kind, page by page (limit + continue); 403 and 404 raise Unavailable.

        Each page is decoded straight into the declared fields of the kind (decode.page): the objects come
        back as kinds.clean keeps them, and nothing else of them is ever built.

        A continue token that expired (410 Gone: the list changed too much while it was paged through) starts
        the list again from the first page, at most MAX_LIST_RESTARTS times.

        The next page is asked for as soon as the head of a page has come, while the rest of it still arrives
        and is decoded: a LIST's metadata (with its continue token) comes before its items
        (decode.continue_token). So the API server works on the next page while this one is read and decoded,
        and no page waits for the one before it to be taken in. The requests are still sent one after the
        other, each once its continue token is known, and the items are kept in order.
        """
        items: list[Obj] = []
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if kind.field_selector:
            query["fieldSelector"] = kind.field_selector
        if kind.label_selector:
            query["labelSelector"] = kind.label_selector
        path = kind.path(namespace)
        restarts = 0
        accept = _PARTIAL_METADATA if kind.metadata_only else None
        page = decode.page(kind)
        pages = 0
        ahead: dict[str, _Ahead] = {}  # the next page, by its continue token, asked for while this one arrives

        def fetch(sent: dict[str, str]) -> tuple[int, Any]:
            def ask_next(data: bytes) -> None:
                token = decode.continue_token(data)
                if token and token not in ahead:
                    ahead[token] = _Ahead(lambda: fetch({**sent, "continue": token}))

            def decoded(data: bytes) -> Any:
                ask_next(data)  # a head too short to hold the List's metadata whole asks for it only here
                return page(data)

            return self.request("GET", path, sent, accept=accept, decode=decoded, head=ask_next)

        while True:
            held = ahead.pop(query["continue"], None) if "continue" in query else None
            status, payload = held.result() if held is not None else fetch(dict(query))
            if status == 403:
                # The API server's own message is kept as sent (not translated); only our default is.
                raise Unavailable(
                    kind.name, "forbidden: " + _message(payload, _("cannot list {what}").format(what=kind.plural))
                )
            if status == 404:
                raise Unavailable(
                    kind.name,
                    _("the API {api} is not served by this cluster (CRD not installed?)").format(
                        api=f"{kind.api_version}/{kind.plural}"
                    ),
                    served=False,
                )
            if status == 410 and "continue" in query:
                restarts += 1
                if restarts > MAX_LIST_RESTARTS:
                    raise AccessError(
                        _(
                            "GET {path}: the continue token expired (410 Gone) {n} times while "
                            "paging through the list; it changes too fast: try again, or narrow the "
                            "scope with -n"
                        ).format(path=path, n=restarts)
                    )
                self.log(
                    f"GET {path}: the continue token expired (410 Gone); listing again from the first page "
                    f"(restart {restarts} of {MAX_LIST_RESTARTS})"
                )
                items = []
                ahead.clear()
                del query["continue"]
                continue
            if status >= 400:
                raise AccessError(
                    _("GET {path} failed: {status} {message}")
                    .format(path=path, status=status, message=_message(payload, ""))
                    .rstrip()
                )
            found = payload.get("items") or []
            items.extend(found)
            pages += 1
            self.progress(kind.name, len(found), pages)
            token = (payload.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = str(token)

    FIELD_MANAGER = "kubectl-tke-net"
    MERGE_PATCH = "application/merge-patch+json"
    STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

    def patch(self, path: str, body: Obj, dry_run: bool = False, strategic: bool = False) -> tuple[int, Any]:
        """A JSON merge patch (RFC 7386) of one object, or with `strategic` a strategic merge patch (built-in
        kinds only: lists such as containers merge by name); dry_run asks the server to check it without storing it.

        Returns (status, the server's object or Status); a resourceVersion in the patch makes a concurrent
        edit a 409 Conflict instead of an overwrite.
        """
        query = {"dryRun": "All"} if dry_run else {}
        query["fieldManager"] = self.FIELD_MANAGER
        content_type = self.STRATEGIC_MERGE_PATCH if strategic else self.MERGE_PATCH
        return self.request("PATCH", path, query, body=body, content_type=content_type)

    APPLY_PATCH = "application/apply-patch+yaml"

    def apply(self, path: str, body: Obj) -> tuple[int, Any]:
        """Server-side apply of one object the plugin owns (its PolicyReports): created or replaced whole as
        field manager kubectl-tke-net, forcing conflicts (no one else is meant to write them). JSON is YAML."""
        return self.request(
            "PATCH",
            path,
            {"fieldManager": self.FIELD_MANAGER, "force": "true"},
            body=body,
            content_type=self.APPLY_PATCH,
        )

    def create(self, path: str, body: Obj) -> tuple[int, Any]:
        """POST one object (the probe Pods); returns (status, the created object or the server's Status)."""
        return self.request("POST", path, {"fieldManager": self.FIELD_MANAGER}, body=body)

    def delete(self, path: str) -> tuple[int, Any]:
        """DELETE one object at once (grace period 0): only for what the plugin created itself, its probe Pods."""
        return self.request("DELETE", path, body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})

    def list_labelled(self, path: str, label_selector: str) -> builtins.list[Obj]:
        """One LIST of the few objects with these labels (the probe Pods of one run); 403 raises Unavailable."""
        status, payload = self.request("GET", path, {"labelSelector": label_selector})
        if status == 403:
            raise Unavailable("pods", "forbidden: " + _message(payload, _("cannot list {what}").format(what=path)))
        if status >= 400:
            raise AccessError(
                _("GET {path} failed: {status} {message}")
                .format(path=path, status=status, message=_message(payload, ""))
                .rstrip()
            )
        return [i for i in payload.get("items") or [] if isinstance(i, dict)]


class _Answer:
    """An answer whose body _streamed read: its status, and its body (None: it broke off)."""

    __slots__ = ("data", "status")

    def __init__(self, status: int, data: bytes | None) -> None:
        self.status = status
        self.data = data


class _Ahead:
    """A request sent on a thread of its own; result() waits for its answer (or raises what it raised)."""

    def __init__(self, call: Callable[[], tuple[int, Any]]) -> None:
        import threading

        self.answer: tuple[int, Any] | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.answer = call()
            except BaseException as exc:  # raised where the page is read
                self.error = exc

        # A daemon, like Snapshot.prefetch's: Ctrl-C does not wait for a page that may never come.
        self.thread = threading.Thread(target=run, name="list-ahead", daemon=True)
        self.thread.start()

    def result(self) -> tuple[int, Any]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


@dataclass
class _Budget:
    """What one read may spend, across urllib3's retries and the ones made here: attempts, time, and why."""

    what: str
    url: str
    started: float
    deadline: float | None
    log: Callable[[str], None]
    tries: int = 0  # attempts that failed so far
    why: str = ""  # how the last one failed
    retry_after: float | None = None  # a Retry-After that would have gone past the deadline
    sent: float = 0.0

    def log_answer(self, status: int) -> None:
        query = "?" + self.url.split("?", 1)[1] if "?" in self.url else ""
        self.log(f"{self.what}{query} -> {status} ({(time.monotonic() - self.sent) * 1000:.0f} ms)")


def _retry(budget: _Budget) -> Any:
    """urllib3's Retry for one read: 429/5xx (Retry-After honoured) and broken connections, within the budget."""
    return _retry_type()(
        total=MAX_ATTEMPTS - 1 - budget.tries,
        connect=0,  # a refused connection is a wrong address or a server that is down: said at once, as kubectl does
        other=0,  # TLS failures and the like: sending again cannot cure them
        redirect=0,
        raise_on_redirect=False,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,  # when it gives up on a status, the answer comes back and is reported
        budget=budget,
    )


@functools.cache
def _retry_type() -> type[Any]:
    """Retry with the plugin's budget: equal-jitter backoff, one deadline for all attempts, each retry logged.

    Made on first use, so that runs that never reach a cluster (--snapshot, --help) do not import urllib3.
    """
    from urllib3.exceptions import MaxRetryError, ResponseError
    from urllib3.util.retry import Retry

    class BudgetRetry(Retry):
        RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

        def __init__(self, *args: Any, budget: _Budget, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.budget = budget
            self.delay = 0.0

        def new(self, **kw: Any) -> BudgetRetry:
            kw.setdefault("budget", self.budget)
            return super().new(**kw)

        def get_backoff_time(self) -> float:
            return _backoff(self.budget.tries)

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> BudgetRetry:
            budget = self.budget
            budget.tries += 1
            retry_after = None
            if error is None and response is not None:
                budget.log_answer(response.status)
                try:
                    payload = json.loads(response.data) if response.data else None
                except (ValueError, RecursionError):
                    payload = None
                budget.why = _status_text(response.status, payload)
                retry_after = _retry_after(response.headers.get("Retry-After"), response.status)
            elif error is not None:
                budget.why = _("the connection broke off ({reason})").format(reason=short(error))
            new = super().increment(method, url, response, error, _pool, _stacktrace)
            assert isinstance(new, BudgetRetry)
            new.delay = self.get_backoff_time() if retry_after is None else retry_after
            if budget.deadline is not None and _clock() + new.delay >= budget.deadline:
                budget.retry_after = retry_after
                raise MaxRetryError(_pool, url or "", error or ResponseError(budget.why))
            budget.log(f"retry {budget.tries} of {MAX_ATTEMPTS - 1}: {budget.what} in {new.delay:.2f}s ({budget.why})")
            return new

        def sleep(self, response: Any = None) -> None:
            _sleep(self.delay)
            self.budget.sent = time.monotonic()

    return BudgetRetry


def _until(deadline: float) -> Any:
    """A timeout of what is left until the deadline, for each attempt: urllib3 clones it before each one."""
    from urllib3 import Timeout

    class Until(Timeout):
        def clone(self) -> Timeout:
            return Until(total=max(deadline - _clock(), 0.001))

    return Until(total=max(deadline - _clock(), 0.001))


def _backoff(attempt: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so that clients spread out."""
    ceiling: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))
    return ceiling / 2 + _jitter() * ceiling / 2


def _retry_after(value: str | None, status: int) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date) of a 429/503, at most MAX_RETRY_AFTER;
    None if absent or bad."""
    if not value or status not in (429, 503):
        return None
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    try:
        seconds = Retry().parse_retry_after(value.strip())
    except (InvalidHeader, ValueError, OverflowError):
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _status_text(status: int, payload: Any) -> str:
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    message = _message(payload, "")
    return f"{status} {phrase}" + (f" ({message[:200]})" if message else "")


def _message(payload: Any, default: str) -> str:
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])
    return default
