"""The one kubeconfig reader, as kubectl reads it: merged $KUBECONFIG, contexts, every kind of credential (tokens,
certificates, basic auth, exec plugins, the oidc auth provider) and the in-cluster service account."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import AccessError

# proxy-url schemes: kubectl's (http, https, socks5), and socks5h, which says outright what kubectl's socks5 does
# (the proxy resolves the server's host name).
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# The service account files a Pod gets; tests point this elsewhere.
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# A credential this close to its expiry is fetched again (client-go keeps the same margin for oidc id-tokens).
EXPIRY_MARGIN = 10.0


@dataclass(frozen=True)
class Target:
    """What the kubeconfig resolved to, for the report's `source` and the default namespace."""

    context: str | None
    cluster: str | None
    namespace: str
    user: str | None = None  # named in errors about its credentials; not part of the report


@dataclass
class Config:
    """How to reach and authenticate to one API server; credentials are never part of its repr."""

    host: str
    verify_ssl: bool = True
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_server_name: str | None = None
    proxy: str | None = field(default=None, repr=False)  # may hold the proxy's password
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    # An exec plugin's token: when it expires (time.time()), and how to get a fresh one.
    expires: float | None = None
    renew: Callable[[], str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bearer(self) -> str | None:
        """The token to send, run again through its exec plugin when it has expired (reads run side by side)."""
        if self.renew is not None and self.expires is not None:
            with self._lock:
                if time.time() >= self.expires - EXPIRY_MARGIN:
                    self.expires = None
                    self.token = self.renew()
        return self.token


def paths(explicit: str | None) -> list[str]:
    """--kubeconfig, else the $KUBECONFIG list, else ~/.kube/config."""
    if explicit:
        return [os.path.expanduser(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def context_names(explicit: str | None) -> list[str]:
    """The context names of the merged kubeconfig (shell completion); no file gives none."""
    existing = [p for p in paths(explicit) if os.path.isfile(p)]
    return sorted(_merged(existing).contexts) if existing else []


def context_cluster(explicit: str | None, name: str) -> str | None:
    """The cluster name a context names (a fleet's row for a context that could not be read); None if unknown."""
    existing = [p for p in paths(explicit) if os.path.isfile(p)]
    try:
        ctx = _merged(existing).contexts.get(name) if existing else None
    except AccessError:
        return None
    return str(ctx["cluster"]) if ctx and ctx.get("cluster") else None


def load(kubeconfig: str | None, context: str | None) -> tuple[Config, Target]:
    """The context's connection settings with its credentials at hand; AccessError says what to fix."""
    candidates = paths(kubeconfig)
    existing = [p for p in candidates if os.path.isfile(p)]
    if kubeconfig and not existing:
        raise AccessError(_("kubeconfig {path} does not exist").format(path=kubeconfig))
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return _in_cluster()
        raise AccessError(
            _("no kubeconfig found ({paths}); set KUBECONFIG or pass --kubeconfig").format(
                paths=os.pathsep.join(candidates)
            )
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
    cfg = _settings(kc, cluster, user if secure else None)
    _check_tls(cfg, cluster, user)
    return cfg, target


def short(reason: object) -> str:
    """The part of an OS or urllib3 error a person reads."""
    text = str(reason)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1) if match else text.split(": ", 1)[-1][:200]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _in_cluster() -> tuple[Config, Target]:
    """The Pod's service account, as client-go's rest.InClusterConfig reads it."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")

    def failed(reason: str) -> AccessError:
        return AccessError(_("in-cluster configuration failed: {reason}").format(reason=reason))

    if not host or not port:
        raise failed(_("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"))
    token_file, ca_file = os.path.join(SERVICE_ACCOUNT, "token"), os.path.join(SERVICE_ACCOUNT, "ca.crt")
    try:
        with open(token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else short(exc)
        raise failed(_("cannot read {path}: {reason}").format(path=token_file, reason=reason)) from exc
    if not token:
        raise failed(_("{path} is empty").format(path=token_file))
    if not os.path.isfile(ca_file):
        raise failed(_("{path} does not exist").format(path=ca_file))
    namespace = "default"
    with contextlib.suppress(OSError, UnicodeDecodeError), open(os.path.join(SERVICE_ACCOUNT, "namespace")) as fh:
        namespace = fh.read().strip() or "default"
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    cfg = Config(host=server, ca_file=ca_file, token=token)
    _check_tls(cfg, "in-cluster", None)
    return cfg, Target(None, None, namespace)


def _settings(kc: _Kubeconfig, cluster: str, user: str | None) -> Config:
    """The context's settings; the user's credentials only when `user` is given (an https:// server)."""
    centry = kc.clusters[cluster]
    uentry = kc.users.get(user, {}) if user else {}
    cfg = Config(host=str(centry["server"]))
    cfg.verify_ssl = not _is_true(centry.get("insecure-skip-tls-verify"))
    cfg.ca_file = _file_or_data(kc, ("cluster", cluster), centry, "certificate-authority")
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
    if cfg.token or cfg.username or cfg.password:
        # As client-go: credentials given outright win; an auth provider or exec plugin is not even run.
        return cfg
    provider = uentry.get("auth-provider")
    if isinstance(provider, dict) and provider:
        cfg.token = _auth_provider(user, provider)
    elif isinstance(uentry.get("exec"), dict):
        _exec_plugin(kc, user, uentry["exec"], cluster, cfg)
    return cfg


def _auth_provider(user: str, provider: dict[str, Any]) -> str:
    """The oidc provider's id-token while it is valid; gcp and azure as kubectl 1.26 left them: removed."""
    name = str(provider.get("name") or "")
    plugins = {
        "gcp": "gke-gcloud-auth-plugin (https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl)",
        "azure": "kubelogin (https://github.com/Azure/kubelogin)",
    }
    if name in plugins:
        raise AccessError(
            _(
                'user "{user}": the {name} auth provider was removed in kubectl 1.26; use its exec credential '
                "plugin instead: {plugin}"
            ).format(user=user, name=name, plugin=plugins[name])
        )
    if name != "oidc":
        raise AccessError(
            _(
                'user "{user}": auth provider "{name}" is not one kubectl has (only oidc); use an exec '
                "credential plugin"
            ).format(user=user, name=name)
        )
    settings = provider.get("config")
    settings = settings if isinstance(settings, dict) else {}
    token = str(settings.get("id-token") or "")
    expiry = _jwt_expiry(token)
    if token and expiry is not None and time.time() < expiry - EXPIRY_MARGIN:
        return token
    # Refreshing means spending the refresh-token, and many issuers hand out a new one each time: without
    # writing it back into the kubeconfig (which this plugin never does) kubectl's next refresh would fail.
    raise AccessError(
        _(
            'user "{user}": its oidc id-token is missing or has expired, and the plugin does not refresh it '
            "(that would rewrite the kubeconfig); run any kubectl command with this context once, which "
            "refreshes and saves it, then try again"
        ).format(user=user)
    )


def _jwt_expiry(token: str) -> float | None:
    """The `exp` of a JWT (seconds since the epoch), unverified: the server checks the token, this only dates it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _exec_plugin(kc: _Kubeconfig, user: str, spec: dict[str, Any], cluster: str, cfg: Config) -> None:
    """Runs the exec credential plugin (client.authentication.k8s.io v1 or v1beta1) and keeps what it gives."""
    command = str(spec.get("command") or "")

    def failed(why: str) -> AccessError:
        return AccessError(
            _(
                'user "{user}": the exec credential plugin "{command}" failed: {why}; run it by hand to see why '
                "(log in again?)"
            ).format(user=user, command=command, why=why)
        )

    api_version = str(spec.get("apiVersion") or "")
    if not command:
        raise failed(_("exec: the kubeconfig gives no command"))
    if api_version not in EXEC_API_VERSIONS:
        raise failed(
            _("exec: apiVersion {version} is not supported; use client.authentication.k8s.io/v1").format(
                version=repr(api_version)
            )
        )
    mode = str(spec.get("interactiveMode") or "IfAvailable")
    terminal = False
    with contextlib.suppress(AttributeError, OSError, ValueError):
        terminal = bool(sys.stdin and sys.stdin.isatty())
    if mode == "Always" and not terminal:
        raise failed(_("exec: the plugin asks for a terminal (interactiveMode: Always) and stdin is not one"))
    interactive = mode == "Always" or (mode == "IfAvailable" and terminal)
    info: dict[str, Any] = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": interactive}}
    if _is_true(spec.get("provideClusterInfo")):
        info["spec"]["cluster"] = _cluster_info(kc, cluster)
    env = dict(os.environ)
    for item in spec.get("env") or []:
        if isinstance(item, dict) and item.get("name"):
            env[str(item["name"])] = str(item.get("value") or "")
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    argv = [command, *(str(a) for a in spec.get("args") or [])]
    if os.sep in command and not os.path.isabs(command):
        # As kubectl: a relative path with a slash is relative to the kubeconfig the user came from.
        argv[0] = os.path.join(kc.folders.get(("user", user), ""), command)

    def run() -> dict[str, Any]:
        try:
            done = subprocess.run(
                argv,
                env=env,
                stdin=None if interactive else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if interactive else subprocess.PIPE,
                check=False,
            )
        except FileNotFoundError:
            hint = " ".join(str(spec.get("installHint") or "").split())
            raise AccessError(
                _(
                    'user "{user}": the exec credential plugin "{command}" failed: exec: executable {command} not '
                    "found; {hint}"
                ).format(
                    user=user,
                    command=command,
                    hint=hint or _("install it, or fix users.{user}.exec.command in the kubeconfig").format(user=user),
                )
            ) from None
        except OSError as exc:
            raise failed("exec: " + short(exc)) from exc
        if done.returncode != 0:
            why = _("exec: process returned {code}").format(code=done.returncode)
            said = " ".join((done.stderr or b"").decode("utf-8", "replace").split())[:300]
            raise failed(f"{why}. {said}" if said else why)
        try:
            doc = json.loads(done.stdout)
        except (ValueError, RecursionError) as exc:
            # The reason names a position, never the output: that holds the credential.
            raise failed(_("exec: failed to decode process output: {reason}").format(reason=exc)) from None
        if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential" or not isinstance(doc.get("status"), dict):
            raise failed(_("exec: its output is not an ExecCredential with a status"))
        if doc.get("apiVersion") != api_version:
            raise failed(
                _("exec: plugin api version {got} does not match {want}").format(
                    got=doc.get("apiVersion"), want=api_version
                )
            )
        status: dict[str, Any] = doc["status"]
        return status

    status = run()
    if status.get("token"):
        cfg.token = str(status["token"])

        def renew() -> str:
            again = run()
            if not again.get("token"):
                raise failed(_("it gave no token and no client certificate"))
            return str(again["token"])

        cfg.expires, cfg.renew = _rfc3339(status.get("expirationTimestamp")), renew
    elif status.get("clientCertificateData"):
        if not status.get("clientKeyData"):
            raise failed(_("exec: missing clientKeyData field in plugin output"))
        # A run is short: the certificate is used as given, not renewed at its expirationTimestamp.
        cfg.cert_file = _private_file(str(status["clientCertificateData"]).encode())
        cfg.key_file = _private_file(str(status["clientKeyData"]).encode())
    else:
        raise failed(_("it gave no token and no client certificate"))


def _cluster_info(kc: _Kubeconfig, cluster: str) -> dict[str, Any]:
    """spec.cluster of KUBERNETES_EXEC_INFO (provideClusterInfo), with the CA as data, as client-go sends it."""
    centry = kc.clusters[cluster]
    info: dict[str, Any] = {"server": str(centry["server"])}
    for key in ("tls-server-name", "proxy-url"):
        if centry.get(key):
            info[key] = str(centry[key])
    for key in ("insecure-skip-tls-verify", "disable-compression"):
        if key in centry:
            info[key] = _is_true(centry[key])
    if centry.get("certificate-authority-data"):
        info["certificate-authority-data"] = str(centry["certificate-authority-data"])
    elif centry.get("certificate-authority"):
        folder = kc.folders.get(("cluster", cluster), "")
        path = os.path.join(folder, os.path.expanduser(str(centry["certificate-authority"])))
        with contextlib.suppress(OSError), open(path, "rb") as fh:
            info["certificate-authority-data"] = base64.b64encode(fh.read()).decode()
    for ext in centry.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
            info["config"] = ext.get("extension")
    return info


def _rfc3339(value: Any) -> float | None:
    if not value:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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
        if scheme not in PROXY_SCHEMES:
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


def _check_tls(cfg: Config, cluster: str, user: str | None) -> None:
    """Load the CA and client certificate now, so that a bad one is named rather than met as a TLS failure."""
    import ssl

    if not str(cfg.host).startswith("https"):
        return
    # A bare client context: create_default_context would also load the system's CA bundle, which is not
    # checked here and took longer than a small run's requests.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cfg.ca_file and cfg.verify_ssl:
        try:
            context.load_verify_locations(cafile=cfg.ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise AccessError(
                _(
                    'cluster "{cluster}": its certificate-authority is not a usable PEM certificate '
                    "({reason}); fix certificate-authority or certificate-authority-data"
                ).format(cluster=cluster, reason=short(exc))
            ) from exc
    if cfg.cert_file or cfg.key_file:
        try:
            context.load_cert_chain(cfg.cert_file or "", cfg.key_file)
        except (ssl.SSLError, OSError, TypeError) as exc:
            raise AccessError(
                _(
                    'user "{user}": the client certificate and key cannot be used together '
                    "({reason}); fix client-certificate(-data) and client-key(-data)"
                ).format(user=user, reason=short(exc))
            ) from exc
