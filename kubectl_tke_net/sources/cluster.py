"""The cluster as the plugin reaches it: kubeconfig as kubectl reads it, HTTP with retries, paginated LISTs, writes."""

from __future__ import annotations

import base64
import builtins
import contextlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from kubectl_tke_net.i18n import _, ngettext
from kubectl_tke_net.model import AccessError, Unavailable
from kubectl_tke_net.snapshot import Kind, Obj

PAGE_SIZE = 500
_PARTIAL_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
MIN_TIMEOUT, MAX_TIMEOUT = 0.001, 24 * 3600.0
# What an HTTP header value may not hold (urllib3 refuses it with an error that quotes the whole value).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# proxy-url schemes: kubectl's (http, https, socks5), and socks5h, which says outright what kubectl's socks5 does
# (the proxy resolves the server's host name).
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

# Reads are sent again on these answers, and on connections reset or bodies cut off; writes never are.
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


@dataclass(frozen=True)
class Target:
    """What the kubeconfig resolved to, for the report's `source` and the default namespace."""

    context: str | None
    cluster: str | None
    namespace: str
    user: str | None = None  # named in errors about its credentials; not part of the report


def _kubeconfig_paths(explicit: str | None) -> list[str]:
    if explicit:
        return [os.path.expanduser(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


class Cluster:
    """A connection to the API server of one kubeconfig context."""

    # Kinds a run needs are listed this many at a time (Snapshot.prefetch); each LIST stays paginated.
    parallel_reads = 4

    def __init__(
        self,
        kubeconfig: str | None,
        context: str | None,
        request_timeout: float | None,
        impersonate: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.timeout = request_timeout
        # -v diagnostics (self.log) stay in English, like kubectl's own -v output; only errors are translated.
        self.log = log or (lambda _msg: None)
        self.config, self.target = _load_config(kubeconfig, context)
        import urllib3

        self._urllib3 = urllib3
        cfg = self.config
        self.host = cfg.host.rstrip("/")
        # As kubectl (client-go) does: the user's credentials (token, username/password, client certificate) are
        # only used over TLS; to an http:// server none is sent.
        self.secure = self.host.startswith("https://")
        pool_args: dict[str, Any] = {
            "cert_reqs": "CERT_REQUIRED" if cfg.verify_ssl else "CERT_NONE",
            "ca_certs": cfg.ssl_ca_cert,
            "cert_file": cfg.cert_file if self.secure else None,
            "key_file": cfg.key_file if self.secure else None,
            "retries": False,
        }
        if getattr(cfg, "tls_server_name", None):
            pool_args["server_hostname"] = cfg.tls_server_name
        if not cfg.verify_ssl:
            urllib3.disable_warnings()
        proxy = str(getattr(cfg, "proxy", None) or "")
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
        auth = self.config.auth_settings().get("BearerToken")
        # A tokenFile usually ends in a newline, which kubectl trims and an HTTP header may not hold.
        value = str((auth or {}).get("value") or "").strip()
        if value:
            if _CONTROL.search(value) or not value.isascii():
                # urllib3 would refuse the header with an error that quotes it: the token is never shown.
                raise AccessError(
                    _(
                        "{owner}: its token contains a line break, a control character or a "
                        "non-ASCII character; copy the token again, on one line, into the kubeconfig "
                        "or its tokenFile"
                    ).format(owner=owner)
                )
            return {"Authorization": value}
        if self.config.username or self.config.password:
            if _CONTROL.search(f"{self.config.username or ''}{self.config.password or ''}"):
                raise AccessError(
                    _(
                        "{owner}: its username or password contains a line break or another control "
                        "character; fix them in the kubeconfig"
                    ).format(owner=owner)
                )
            return {"Authorization": self.config.get_basic_auth_token()}
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
    ) -> tuple[int, Any]:
        """One API call; returns (status, decoded JSON). What cannot be answered raises AccessError.

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
        started = _clock()
        deadline = started + self.timeout if self.timeout else None
        attempt = 0
        while True:
            attempt += 1
            try:
                status, payload, retry_after = self._send(what, url, None, headers, deadline)
            except _Transient as exc:
                why, retry_after = exc.reason, None
            else:
                if status not in RETRY_STATUSES:
                    return status, payload
                why = _status_text(status, payload)
            delay = _backoff(attempt) if retry_after is None else retry_after
            spent = _clock() - started
            if attempt >= MAX_ATTEMPTS or (deadline is not None and _clock() + delay >= deadline):
                tries = ngettext("{n} attempt in {seconds}s", "{n} attempts in {seconds}s", attempt).format(
                    n=attempt, seconds=f"{spent:.1f}"
                )
                if retry_after is not None and deadline is not None and _clock() + delay >= deadline:
                    tries += _(" (the server asked to retry after {seconds}s, past the request timeout)").format(
                        seconds=f"{retry_after:g}"
                    )
                raise AccessError(
                    _(
                        "{what}: {why}, {tries}; the API server is unhealthy, overloaded or "
                        "unreachable: try again later, or raise --request-timeout"
                    ).format(what=what, why=why, tries=tries)
                )
            self.log(f"retry {attempt} of {MAX_ATTEMPTS - 1}: {what} in {delay:.2f}s ({why})")
            _sleep(delay)

    def _send(
        self, what: str, url: str, data: bytes | None, headers: dict[str, str], deadline: float | None
    ) -> tuple[int, Any, float | None]:
        """One HTTP exchange of a read: (status, JSON, Retry-After seconds); _Transient when worth resending."""
        exc_types = self._urllib3.exceptions
        timeout = None
        if deadline is not None:
            timeout = self._urllib3.Timeout(total=max(deadline - _clock(), 0.001))
        method = what.split(" ", 1)[0]
        started = time.monotonic()
        try:
            resp = self.http.request(
                method, url, body=data, headers=headers, timeout=timeout, retries=False, preload_content=True
            )
        except exc_types.NewConnectionError as exc:
            # Checked first: urllib3 makes NewConnectionError a subclass of its TimeoutError.
            raise AccessError(
                _(
                    "cannot reach the API server at {host}: {reason}; check the kubeconfig context and your network"
                ).format(host=self.host, reason=_short(exc))
            ) from exc
        except exc_types.TimeoutError as exc:
            raise AccessError(
                _(
                    "{what}: the API server at {host} did not answer within the request timeout "
                    "({timeout}s); raise it with --request-timeout"
                ).format(what=what, host=self.host, timeout=f"{self.timeout:g}")
            ) from exc
        except exc_types.SSLError as exc:
            raise AccessError(
                _(
                    "TLS connection to {host} failed: {reason}; check certificate-authority (or "
                    "certificate-authority-data) of the cluster in the kubeconfig"
                ).format(host=self.host, reason=_short(exc))
            ) from exc
        except exc_types.ProtocolError as exc:
            raise _Transient(_("the connection broke off ({reason})").format(reason=_short(exc))) from exc
        except exc_types.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise AccessError(
                _(
                    "cannot reach the API server at {host}: {reason}; check the kubeconfig context and your network"
                ).format(host=self.host, reason=_short(reason))
            ) from exc
        self.log(
            f"{what}{'?' + url.split('?', 1)[1] if '?' in url else ''} -> {resp.status} "
            f"({(time.monotonic() - started) * 1000:.0f} ms)"
        )
        if resp.status == 401:
            raise AccessError(
                _(
                    "authentication to {host} failed (401 Unauthorized); your credentials may have "
                    "expired: refresh the kubeconfig"
                ).format(host=self.host)
            )
        try:
            payload = json.loads(resp.data) if resp.data else None
        except (ValueError, RecursionError):
            if 200 <= resp.status < 300:
                raise _Transient(
                    _("the answer was cut off or is not JSON ({n} bytes)").format(n=len(resp.data))
                ) from None
            payload = {"message": resp.data[:200].decode("utf-8", "replace")}
        if 200 <= resp.status < 300 and not isinstance(payload, dict):
            raise _Transient(_("the answer is not a JSON object"))
        return resp.status, payload, _retry_after(resp.headers.get("Retry-After"), resp.status)

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
                    what=what, host=self.host, reason=_short(exc)
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
                    what=what, reason=_short(reason), unknown=unknown
                )
            ) from exc
        self.log(
            f"{what}{'?' + url.split('?', 1)[1] if '?' in url else ''} -> {resp.status} "
            f"({(time.monotonic() - started) * 1000:.0f} ms)"
        )
        if resp.status == 401:
            raise AccessError(
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

        A continue token that expired (410 Gone: the list changed too much while it was paged through) starts
        the list again from the first page, at most MAX_LIST_RESTARTS times.
        """
        items: list[Obj] = []
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if kind.field_selector:
            query["fieldSelector"] = kind.field_selector
        path = kind.path(namespace)
        restarts = 0
        while True:
            status, payload = self.request("GET", path, query, accept=_PARTIAL_METADATA if kind.metadata_only else None)
            if status == 403:
                # The API server's own message is kept as sent (not translated); only our default is.
                raise Unavailable(
                    kind.name, "forbidden: " + _message(payload, _("cannot list {what}").format(what=kind.name))
                )
            if status == 404:
                raise Unavailable(
                    kind.name,
                    _("the API {api} is not served by this cluster (CRD not installed?)").format(
                        api=f"{kind.api_version}/{kind.name}"
                    ),
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
                del query["continue"]
                continue
            if status >= 400:
                raise AccessError(
                    _("GET {path} failed: {status} {message}")
                    .format(path=path, status=status, message=_message(payload, ""))
                    .rstrip()
                )
            items.extend(i for i in payload.get("items") or [] if isinstance(i, dict))
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


class _Transient(Exception):
    """A read that failed in a way that sending it again may cure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _backoff(attempt: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so that clients spread out."""
    ceiling: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))
    return ceiling / 2 + _jitter() * ceiling / 2


def _retry_after(value: str | None, status: int) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date) of a 429/503; None if absent or bad."""
    if not value or status not in (429, 503):
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    from datetime import UTC, datetime

    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


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


def _short(reason: object) -> str:
    text = str(reason)
    # urllib3 wraps the OS error in a long repr; keep the part a person reads.
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1) if match else text.split(": ", 1)[-1][:200]


@dataclass
class _Kubeconfig:
    """A kubeconfig list merged as kubectl merges it: for each name (and current-context), the first file wins."""

    paths: list[str]
    current: str | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The folder of the file each cluster and user came from: relative file names are relative to it.
    folders: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return os.pathsep.join(self.paths)


def _merged(paths: list[str]) -> _Kubeconfig:
    import yaml

    merged = _Kubeconfig(paths)
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
            first = _("it nests too deeply") if isinstance(exc, RecursionError) else _first_line(exc)
            raise AccessError(_("cannot read kubeconfig {path}: {reason}").format(path=path, reason=first)) from exc
        if not isinstance(doc, dict):
            raise AccessError(_("invalid kubeconfig {path}: not a mapping").format(path=path))
        merged.current = merged.current or (str(doc["current-context"]) if doc.get("current-context") else None)
        sections = (
            ("contexts", merged.contexts, "context"),
            ("clusters", merged.clusters, "cluster"),
            ("users", merged.users, "user"),
        )
        for key, into, field_name in sections:
            entries = doc.get(key) or []
            if not isinstance(entries, list):
                raise AccessError(_("invalid kubeconfig {path}: {key} is not a list").format(path=path, key=key))
            for entry in entries:
                if isinstance(entry, dict) and entry.get("name") and str(entry["name"]) not in into:
                    value = entry.get(field_name) or {}
                    if not isinstance(value, dict):
                        raise AccessError(
                            _('invalid kubeconfig {path}: {field} "{name}" is not a mapping').format(
                                path=path, field=field_name, name=entry["name"]
                            )
                        )
                    into[str(entry["name"])] = value
                    merged.folders[(field_name, str(entry["name"]))] = os.path.dirname(os.path.abspath(path))
    return merged


def _check_context(kc: _Kubeconfig, name: str) -> tuple[str, str | None]:
    """The context's cluster and user names, once they are known to be usable; else what to fix."""
    ctx = kc.contexts[name]
    cluster, user = ctx.get("cluster"), ctx.get("user")
    if not cluster:
        raise AccessError(
            _(
                'context "{name}" in {where} names no cluster; set one with kubectl config '
                "set-context {name} --cluster=NAME"
            ).format(name=name, where=kc.where)
        )
    if str(cluster) not in kc.clusters:
        raise AccessError(
            _(
                'context "{name}" names cluster "{cluster}", which is not in {where}; add the cluster '
                "or point the context at another: kubectl config set-context {name} "
                "--cluster=NAME"
            ).format(name=name, cluster=cluster, where=kc.where)
        )
    if user and str(user) not in kc.users:
        raise AccessError(
            _(
                'context "{name}" names user "{user}", which is not in {where}; add the user or point '
                "the context at another: kubectl config set-context {name} --user=NAME"
            ).format(name=name, user=user, where=kc.where)
        )
    server = kc.clusters[str(cluster)].get("server")
    if not server:
        raise AccessError(
            _(
                'cluster "{cluster}" in {where} has no server; set it with kubectl config set-cluster '
                "{cluster} --server=https://HOST:PORT"
            ).format(cluster=cluster, where=kc.where)
        )
    if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s]*)?", str(server)):
        raise AccessError(
            _(
                'cluster "{cluster}" in {where} has server "{server}", which is not an https:// URL; '
                "fix it with kubectl config set-cluster {cluster} --server=https://HOST:PORT"
            ).format(cluster=cluster, where=kc.where, server=server)
        )
    centry = kc.clusters[str(cluster)]
    if centry.get("proxy-url"):
        from urllib.parse import urlsplit

        scheme = urlsplit(str(centry["proxy-url"])).scheme.lower()
        if scheme not in _PROXY_SCHEMES:
            # The URL itself is not shown: it may hold the proxy's password.
            raise AccessError(
                _(
                    'cluster "{cluster}" in {where}: its proxy-url has the scheme "{scheme}", which '
                    "kubectl does not support; use http, https or socks5"
                ).format(cluster=cluster, where=kc.where, scheme=scheme)
            )
    has_ca = centry.get("certificate-authority") or centry.get("certificate-authority-data")
    if str(server).startswith("https://") and _is_true(centry.get("insecure-skip-tls-verify")) and has_ca:
        raise AccessError(
            _(
                'cluster "{cluster}" in {where} sets insecure-skip-tls-verify together with a '
                "certificate authority, which kubectl refuses; remove one of them, e.g. kubectl config "
                "unset clusters.{cluster}.insecure-skip-tls-verify"
            ).format(cluster=cluster, where=kc.where)
        )
    uentry = kc.users[str(user)] if user else {}
    if (uentry.get("token") or uentry.get("tokenFile")) and (uentry.get("username") or uentry.get("password")):
        raise AccessError(
            _(
                'user "{user}" in {where} has both a bearer token and a username/password, which '
                "kubectl refuses; keep one: remove token (or tokenFile), or username and "
                "password"
            ).format(user=user, where=kc.where)
        )
    entries = [(_('cluster "{name}"').format(name=cluster), kc.clusters[str(cluster)], "certificate-authority-data")]
    if user:
        entries += [
            (_('user "{name}"').format(name=user), kc.users[str(user)], key)
            for key in ("client-certificate-data", "client-key-data")
        ]
    for owner, entry, key in entries:
        value = entry.get(key)
        if value is None:
            continue
        try:
            base64.b64decode(str(value), validate=True)
        except (ValueError, TypeError):
            # The value itself is never shown: client-key-data is a private key.
            raise AccessError(
                _("{owner} in {where}: {key} is not valid base64; copy it again from the cluster's credentials").format(
                    owner=owner, where=kc.where, key=key
                )
            ) from None
    return str(cluster), str(user) if user else None


def _check_tls(cfg: Any, cluster: str, user: str | None) -> None:
    """Load the CA and client certificate now, so that a bad one is named rather than met as a TLS failure."""
    import ssl

    if not str(cfg.host).startswith("https"):
        return
    context = ssl.create_default_context()
    if cfg.ssl_ca_cert and cfg.verify_ssl:
        try:
            context.load_verify_locations(cafile=cfg.ssl_ca_cert)
        except (ssl.SSLError, OSError) as exc:
            raise AccessError(
                _(
                    'cluster "{cluster}": its certificate-authority is not a usable PEM certificate '
                    "({reason}); fix certificate-authority or certificate-authority-data"
                ).format(cluster=cluster, reason=_short(exc))
            ) from exc
    if cfg.cert_file or cfg.key_file:
        try:
            context.load_cert_chain(cfg.cert_file, cfg.key_file)
        except (ssl.SSLError, OSError, TypeError) as exc:
            raise AccessError(
                _(
                    'user "{user}": the client certificate and key cannot be used together '
                    "({reason}); fix client-certificate(-data) and client-key(-data)"
                ).format(user=user, reason=_short(exc))
            ) from exc


# A kubeconfig entry with only these keys is read here; anything else (exec, auth-provider, ...) is left to the
# kubernetes library, whose import alone costs more than a small run's requests (bench/README: start-up).
_PLAIN_USER_KEYS = frozenset(
    {
        "token",
        "tokenFile",
        "client-certificate",
        "client-certificate-data",
        "client-key",
        "client-key-data",
        "username",
        "password",
    }
)
_PLAIN_CLUSTER_KEYS = frozenset(
    {
        "server",
        "certificate-authority",
        "certificate-authority-data",
        "insecure-skip-tls-verify",
        "tls-server-name",
        "proxy-url",
        "extensions",
        "disable-compression",
    }
)


@dataclass
class _Config:
    """The connection settings of a plain kubeconfig context (the attributes Cluster reads of the library's)."""

    host: str
    verify_ssl: bool = True
    ssl_ca_cert: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None
    proxy: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def auth_settings(self) -> dict[str, dict[str, str]]:
        return {"BearerToken": {"value": f"Bearer {self.token}"}} if self.token else {}

    def get_basic_auth_token(self) -> str:
        pair = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _private_file(content: bytes) -> str:
    """A file only this user can read, removed at exit: TLS files given inline (`*-data`) must be files."""
    import atexit
    import tempfile

    fd, path = tempfile.mkstemp(prefix="tke-net-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)

    def remove() -> None:
        with contextlib.suppress(OSError):
            os.unlink(path)

    atexit.register(remove)
    return path


def _file_or_data(kc: _Kubeconfig, owner: tuple[str, str], entry: dict[str, Any], key: str) -> str | None:
    """`key-data` (inline, base64) wins over `key` (a file name, relative to its kubeconfig), as in kubectl."""
    if entry.get(f"{key}-data"):
        return _private_file(base64.b64decode(str(entry[f"{key}-data"])))
    if not entry.get(key):
        return None
    path = os.path.join(kc.folders.get(owner, ""), os.path.expanduser(str(entry[key])))
    if not os.path.isfile(path):
        raise AccessError(
            _("invalid kubeconfig {where}: File does not exist: {path}").format(where=kc.where, path=path)
        )
    return path


def _plain_config(kc: _Kubeconfig, cluster: str, user: str | None) -> _Config | None:
    """The settings of a context that needs no plugin, read without the kubernetes library; else None."""
    centry = kc.clusters[cluster]
    uentry = kc.users.get(user, {}) if user else {}
    if not set(centry) <= _PLAIN_CLUSTER_KEYS or not set(uentry) <= _PLAIN_USER_KEYS:
        return None
    cfg = _Config(host=str(centry["server"]))
    cfg.verify_ssl = not _is_true(centry.get("insecure-skip-tls-verify"))
    cfg.ssl_ca_cert = _file_or_data(kc, ("cluster", cluster), centry, "certificate-authority")
    cfg.tls_server_name = str(centry["tls-server-name"]) if centry.get("tls-server-name") else None
    cfg.proxy = str(centry["proxy-url"]) if centry.get("proxy-url") else None
    if not user:
        return cfg
    owner = ("user", user)
    cfg.cert_file = _file_or_data(kc, owner, uentry, "client-certificate")
    cfg.key_file = _file_or_data(kc, owner, uentry, "client-key")
    cfg.token = str(uentry["token"]).strip() if uentry.get("token") else None
    if uentry.get("tokenFile"):
        # As client-go: the file wins when it can be read; the inline token stands in when it cannot.
        path = os.path.join(kc.folders.get(owner, ""), os.path.expanduser(str(uentry["tokenFile"])))
        try:
            with open(path, encoding="utf-8") as fh:
                cfg.token = fh.read().strip() or cfg.token
        except (OSError, UnicodeDecodeError) as exc:
            if not cfg.token:
                raise AccessError(
                    _("cannot read kubeconfig {path}: {reason}").format(path=kc.where, reason=_first_line(exc))
                ) from exc
    if not cfg.token and (uentry.get("username") or uentry.get("password")):
        cfg.username, cfg.password = str(uentry.get("username") or ""), str(uentry.get("password") or "")
    return cfg


class _Captured(logging.Handler):
    """Keeps what the kubernetes library logs (it reports exec-plugin failures through `logging.error`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _load_config(kubeconfig: str | None, context: str | None) -> tuple[Any, Target]:
    paths = _kubeconfig_paths(kubeconfig)
    existing = [p for p in paths if os.path.isfile(p)]
    if kubeconfig and not existing:
        raise AccessError(_("kubeconfig {path} does not exist").format(path=kubeconfig))
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            from kubernetes import config as kconfig
            from kubernetes.client.configuration import Configuration
            from kubernetes.config.config_exception import ConfigException

            cfg = Configuration()
            try:
                kconfig.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            except ConfigException as exc:
                raise AccessError(_("in-cluster configuration failed: {reason}").format(reason=exc)) from exc
            ns_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
            namespace = "default"
            if os.path.isfile(ns_file):
                with open(ns_file, encoding="utf-8") as fh:
                    namespace = fh.read().strip() or "default"
            return cfg, Target(None, None, namespace)
        raise AccessError(
            _("no kubeconfig found ({paths}); set KUBECONFIG or pass --kubeconfig").format(paths=os.pathsep.join(paths))
        )
    kc = _merged(existing)
    name = context or kc.current
    if not name:
        raise AccessError(
            _(
                "no current context in {where}; pass --context NAME, or choose one with kubectl config use-context NAME"
            ).format(where=kc.where)
        )
    if name not in kc.contexts:
        raise AccessError(_('context "{name}" not found in {where}').format(name=name, where=kc.where))
    cluster, user = _check_context(kc, name)
    ctx = kc.contexts[name]
    target = Target(name, ctx.get("cluster"), ctx.get("namespace") or "default", user)
    # To an http:// server kubectl sends no credentials, so it reads none (no tokenFile, no exec plugin).
    secure = str(kc.clusters[cluster]["server"]).startswith("https://")
    plain = _plain_config(kc, cluster, user if secure else None)
    if plain is not None:
        _check_tls(plain, cluster, user)
        return plain, target
    return _library_config(kc, name, cluster, user), target


def _library_config(kc: _Kubeconfig, name: str, cluster: str, user: str | None) -> Any:
    """Exec plugins, auth providers and whatever else a kubeconfig may hold: the kubernetes library reads it."""
    from kubernetes import config as kconfig
    from kubernetes.client.configuration import Configuration
    from kubernetes.config.config_exception import ConfigException

    cfg = Configuration()
    captured = _Captured()
    root = logging.getLogger()
    root.addHandler(captured)  # also keeps logging.error from configuring a stderr handler of its own
    try:
        kconfig.load_kube_config(
            config_file=kc.where,
            context=name,  # type: ignore[no-untyped-call]
            client_configuration=cfg,
            persist_config=False,
        )
    except ConfigException as exc:
        raise AccessError(
            _("invalid kubeconfig {path}: {reason}").format(path=kc.where, reason=_first_line(exc))
        ) from exc
    except (OSError, ValueError) as exc:
        raise AccessError(
            _("cannot read kubeconfig {path}: {reason}").format(path=kc.where, reason=_first_line(exc))
        ) from exc
    finally:
        root.removeHandler(captured)
    exec_cfg = kc.users.get(user or "", {}).get("exec")
    secure = str(cfg.host).startswith("https://")
    if secure and isinstance(exec_cfg, dict) and not cfg.api_key.get("BearerToken") and not cfg.cert_file:
        why = "; ".join(captured.messages)[:300] or _("it gave no token and no client certificate")
        raise AccessError(
            _(
                'user "{user}": the exec credential plugin "{command}" failed: {why}; run it by hand '
                "to see why (log in again?)"
            ).format(user=user, command=exec_cfg.get("command"), why=why)
        )
    _check_tls(cfg, cluster, user)
    return cfg


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
