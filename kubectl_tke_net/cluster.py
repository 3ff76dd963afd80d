"""The only module that talks to a cluster: kubeconfig as kubectl reads it, paginated LISTs, and writes."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kubectl_tke_net.model import AccessError, Unavailable
from kubectl_tke_net.snapshot import Kind, Obj

PAGE_SIZE = 500
_PARTIAL_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """kubectl's --request-timeout syntax: "30s", "1m", "1h2m", a bare number of seconds; 0 means none."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 1m, 0)")
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * scale[u] for n, u in parts)
    return seconds or None


@dataclass(frozen=True)
class Target:
    """What the kubeconfig resolved to, for the report's `source` and the default namespace."""

    context: str | None
    cluster: str | None
    namespace: str


def _kubeconfig_paths(explicit: str | None) -> list[str]:
    if explicit:
        return [os.path.expanduser(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


class Cluster:
    """A connection to the API server of one kubeconfig context."""

    def __init__(
        self,
        kubeconfig: str | None,
        context: str | None,
        request_timeout: float | None,
        impersonate: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.timeout = request_timeout
        self.log = log or (lambda _msg: None)
        self.config, self.target = _load_config(kubeconfig, context)
        import urllib3

        self._urllib3 = urllib3
        cfg = self.config
        pool_args: dict[str, Any] = {
            "cert_reqs": "CERT_REQUIRED" if cfg.verify_ssl else "CERT_NONE",
            "ca_certs": cfg.ssl_ca_cert,
            "cert_file": cfg.cert_file,
            "key_file": cfg.key_file,
            "retries": False,
        }
        if getattr(cfg, "tls_server_name", None):
            pool_args["server_hostname"] = cfg.tls_server_name
        if not cfg.verify_ssl:
            urllib3.disable_warnings()
        if getattr(cfg, "proxy", None):
            self.http: Any = urllib3.ProxyManager(cfg.proxy, **pool_args)
        else:
            self.http = urllib3.PoolManager(**pool_args)
        self.host = cfg.host.rstrip("/")
        self.headers = {"User-Agent": "kubectl-tke-net", "Accept": "application/json"}
        if impersonate:
            self.headers["Impersonate-User"] = impersonate

    def _auth(self) -> dict[str, str]:
        auth = self.config.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            return {"Authorization": auth["value"]}
        if self.config.username or self.config.password:
            return {"Authorization": self.config.get_basic_auth_token()}
        return {}

    def request(self, method: str, path: str, query: dict[str, str] | None = None, *,
                body: Any = None, content_type: str | None = None, accept: str | None = None) -> tuple[int, Any]:
        """One HTTP request; returns (status, decoded JSON). Connection problems raise AccessError."""
        url = self.host + path + ("?" + urlencode(query) if query else "")
        headers = {**self.headers, **self._auth()}
        if accept:
            headers["Accept"] = accept
        data = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            data = json.dumps(body).encode()
        timeout = self._urllib3.Timeout(total=self.timeout) if self.timeout else None
        started = time.monotonic()
        try:
            resp = self.http.request(method, url, body=data, headers=headers, timeout=timeout,
                                     retries=False, preload_content=True)
        except self._urllib3.exceptions.NewConnectionError as exc:
            # Checked first: urllib3 makes NewConnectionError a subclass of its TimeoutError.
            raise AccessError(f"cannot reach the API server at {self.host}: {_short(exc)}; "
                              "check the kubeconfig context and your network") from exc
        except self._urllib3.exceptions.TimeoutError as exc:
            raise AccessError(f"{method} {path}: the API server at {self.host} did not answer within "
                              f"the request timeout ({self.timeout:g}s); raise it with --request-timeout") from exc
        except self._urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise AccessError(f"cannot reach the API server at {self.host}: {_short(reason)}; "
                              "check the kubeconfig context and your network") from exc
        self.log(f"{method} {path}{'?' + urlencode(query) if query else ''} -> {resp.status} "
                 f"({(time.monotonic() - started) * 1000:.0f} ms)")
        try:
            payload = json.loads(resp.data) if resp.data else None
        except ValueError:
            payload = {"message": resp.data[:200].decode("utf-8", "replace")}
        if resp.status == 401:
            raise AccessError(f"authentication to {self.host} failed (401 Unauthorized); "
                              "your credentials may have expired: refresh the kubeconfig")
        return resp.status, payload

    def list(self, kind: Kind, namespace: str | None) -> list[Obj]:
        """Every object of the kind, page by page (limit + continue); 403 and 404 raise Unavailable."""
        items: list[Obj] = []
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if kind.field_selector:
            query["fieldSelector"] = kind.field_selector
        path = kind.path(namespace)
        while True:
            status, payload = self.request("GET", path, query,
                                           accept=_PARTIAL_METADATA if kind.metadata_only else None)
            if status == 403:
                raise Unavailable(kind.name, "forbidden: " + _message(payload, f"cannot list {kind.name}"))
            if status == 404:
                raise Unavailable(kind.name, f"the API {kind.api_version}/{kind.name} is not served "
                                             "by this cluster (CRD not installed?)")
            if status >= 400:
                raise AccessError(f"GET {path} failed: {status} {_message(payload, '')}".rstrip())
            items.extend(payload.get("items") or [])
            token = (payload.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    FIELD_MANAGER = "kubectl-tke-net"
    MERGE_PATCH = "application/merge-patch+json"

    def patch(self, path: str, body: Obj, dry_run: bool = False) -> tuple[int, Any]:
        """A JSON merge patch (RFC 7386) of one object; dry_run asks the server to check it without storing it.

        Returns (status, the server's object or Status); a resourceVersion in the patch makes a concurrent
        edit a 409 Conflict instead of an overwrite.
        """
        query = {"dryRun": "All"} if dry_run else {}
        query["fieldManager"] = self.FIELD_MANAGER
        return self.request("PATCH", path, query, body=body, content_type=self.MERGE_PATCH)


def _message(payload: Any, default: str) -> str:
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])
    return default


def _short(reason: object) -> str:
    text = str(reason)
    # urllib3 wraps the OS error in a long repr; keep the part a person reads.
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1) if match else text.split(": ", 1)[-1][:200]


def _contexts(paths: list[str]) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The current context and the contexts of a kubeconfig list, merged as kubectl does: first one wins."""
    import yaml

    current: str | None = None
    contexts: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AccessError(f"cannot read kubeconfig {path}: {str(exc).splitlines()[0]}") from exc
        if not isinstance(doc, dict):
            raise AccessError(f"invalid kubeconfig {path}: not a mapping")
        current = current or doc.get("current-context") or None
        for entry in doc.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in contexts:
                contexts[entry["name"]] = entry.get("context") or {}
    return current, contexts


def _load_config(kubeconfig: str | None, context: str | None) -> tuple[Any, Target]:
    from kubernetes import config as kconfig
    from kubernetes.client.configuration import Configuration
    from kubernetes.config.config_exception import ConfigException

    paths = _kubeconfig_paths(kubeconfig)
    existing = [p for p in paths if os.path.isfile(p)]
    cfg = Configuration()
    if kubeconfig and not existing:
        raise AccessError(f"kubeconfig {kubeconfig} does not exist")
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            try:
                kconfig.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            except ConfigException as exc:
                raise AccessError(f"in-cluster configuration failed: {exc}") from exc
            ns_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
            namespace = "default"
            if os.path.isfile(ns_file):
                with open(ns_file, encoding="utf-8") as fh:
                    namespace = fh.read().strip() or "default"
            return cfg, Target(None, None, namespace)
        raise AccessError(f"no kubeconfig found ({os.pathsep.join(paths)}); "
                          "set KUBECONFIG or pass --kubeconfig")
    where = os.pathsep.join(existing)
    current, contexts = _contexts(existing)
    name = context or current
    if not name:
        raise AccessError(f"no current context in {where}; pass --context")
    if name not in contexts:
        raise AccessError(f'context "{name}" not found in {where}')
    try:
        kconfig.load_kube_config(config_file=where, context=name,  # type: ignore[no-untyped-call]
                                 client_configuration=cfg, persist_config=False)
    except ConfigException as exc:
        raise AccessError(f"invalid kubeconfig {where}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise AccessError(f"cannot read kubeconfig {where}: {exc}") from exc
    ctx = contexts[name]
    return cfg, Target(name, ctx.get("cluster"), ctx.get("namespace") or "default")


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr)
