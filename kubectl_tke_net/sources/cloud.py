"""Tencent Cloud source: credentials and region, and the read-only API calls (the only module that imports the
SDK), batched and run up front into the CloudFacts item that the checks TKE401-TKE406 read from the snapshot."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kubectl_tke_net.cloudrules import (
    ACCOUNT,
    CERTIFICATES,
    INSTANCES,
    LOAD_BALANCERS,
    READ_AT,
    SECURITY_GROUPS,
    TEMPLATES,
    Certificate,
    CloudView,
    Instance,
    LoadBalancer,
    SecurityGroup,
    Wants,
    new_facts,
)
from kubectl_tke_net.i18n import _
from kubectl_tke_net.model import Unavailable

ENV_SECRET_ID = "TENCENTCLOUD_SECRET_ID"
ENV_SECRET_KEY = "TENCENTCLOUD_SECRET_KEY"
ENV_TOKEN = "TENCENTCLOUD_SESSION_TOKEN"
ENV_REGION = "TENCENTCLOUD_REGION"
# Where the API is: a URL such as http://127.0.0.1:8080 (tests) or https://{service}.internal.tencentcloudapi.com.
ENV_ENDPOINT = "TKE_NET_CLOUD_ENDPOINT"
CLOUD_PREFIX = "TKE4"

REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
CBS_ZONE_LABEL = "topology.com.tencent.cloud.csi.cbs/zone"  # e.g. ap-chengdu-1 (TKE-FACTS §4.1)
# TKE writes short region names into the region labels (`cd` next to a CBS zone `ap-chengdu-1` on a real node);
# only `cd` is confirmed by that evidence, the others follow the same pattern (pass --region when in doubt).
SHORT_REGIONS = {
    "gz": "ap-guangzhou",
    "sh": "ap-shanghai",
    "bj": "ap-beijing",
    "cd": "ap-chengdu",
    "cq": "ap-chongqing",
    "nj": "ap-nanjing",
    "hk": "ap-hongkong",
    "sg": "ap-singapore",
}

# Page and batch sizes from the API references: DescribeInstances takes up to 100 IDs, DescribeLoadBalancers 20;
# VPC filters take up to 5 values (the common VPC limit; UNVERIFIED for the address-template actions).
INSTANCE_BATCH = 100
LB_BATCH = 20
FILTER_BATCH = 5
PAGE = 100
# SSL DescribeCertificates (tencentcloud/ssl/v20191205/models.py, DescribeCertificatesRequest): CertIds filters by
# ID, Limit up to 1000 a page; how many CertIds one call takes is not documented (UNVERIFIED), so 100, like CVM.
CERT_BATCH = 100


# --- credentials and region ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """API keys; repr never shows the key or the token."""

    secret_id: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = ""


def _tccli_file(home: Path, env: Mapping[str, str], suffix: str) -> dict[str, Any]:
    """A tccli profile file (~/.tccli/<profile>.credential or .configure, JSON), or {}."""
    profile = env.get("TCCLI_PROFILE") or "default"
    path = home / ".tccli" / f"{profile}.{suffix}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_credentials(env: Mapping[str, str], home: Path) -> Credentials | None:
    """TENCENTCLOUD_SECRET_ID/KEY (and SESSION_TOKEN), else the keys `tccli configure` saved."""
    if env.get(ENV_SECRET_ID) and env.get(ENV_SECRET_KEY):
        return Credentials(env[ENV_SECRET_ID], env[ENV_SECRET_KEY], env.get(ENV_TOKEN) or None, "environment")
    cred = _tccli_file(home, env, "credential")
    sid, key = cred.get("secretId"), cred.get("secretKey")
    if isinstance(sid, str) and isinstance(key, str) and sid and key:
        token = cred.get("token")
        return Credentials(sid, key, token if isinstance(token, str) and token else None, "tccli")
    return None


_REGION = re.compile(r"[a-z]{2}-[a-z]+(?:-[a-z]+)?")  # ap-guangzhou, na-siliconvalley, ap-shanghai-fsi


def _label_region(value: str) -> str | None:
    """A region from a node label: a short name we know, or a full region name; else None (not guessed: an
    unknown short name sent as a region would fail every call with an unclear error; --region says it)."""
    region = SHORT_REGIONS.get(value, value)
    return region if _REGION.fullmatch(region) else None


def region_of_nodes(nodes: Iterable[dict[str, Any]]) -> str | None:
    """The most common region of the nodes: from the CBS zone label (ap-chengdu-1), else the region labels."""
    found: Counter[str] = Counter()
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        zone = labels.get(CBS_ZONE_LABEL)
        if isinstance(zone, str) and re.fullmatch(r"[a-z]+-[a-z]+(?:-[a-z]+)?-\d+", zone):
            found[zone.rsplit("-", 1)[0]] += 1
            continue
        for key in REGION_LABELS:
            region = _label_region(str(labels.get(key) or ""))
            if region:
                found[region] += 1
                break
    return found.most_common(1)[0][0] if found else None


def resolve_region(flag: str | None, env: Mapping[str, str], nodes: Iterable[dict[str, Any]], home: Path) -> str | None:
    """--region, else TENCENTCLOUD_REGION, else the nodes' labels, else tccli's configured region."""
    if flag:
        return flag
    if env.get(ENV_REGION):
        return env[ENV_REGION]
    region = region_of_nodes(nodes)
    if region:
        return region
    conf = _tccli_file(home, env, "configure")
    sys_param = conf.get("_sys_param") if isinstance(conf.get("_sys_param"), dict) else conf
    value = sys_param.get("region") if isinstance(sys_param, dict) else None
    return value if isinstance(value, str) and value else None


# --- the API ---------------------------------------------------------------------------------------------


class CloudError(Exception):
    """An API call failed; `code` is the API's error code (AuthFailure.SignatureFailure, ...)."""

    def __init__(self, code: str, message: str, action: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.action = action


class Api(Protocol):
    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """The Response object of one API call; raises CloudError."""
        ...


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _reason(exc: CloudError, service: str) -> str:
    code = exc.code
    if code.startswith("AuthFailure"):
        hint = _("authentication failed; check {id}/{key} or `tccli configure`").format(
            id=ENV_SECRET_ID, key=ENV_SECRET_KEY
        )
    elif code.startswith(("UnauthorizedOperation", "OperationDenied")):
        hint = _("permission denied; the CAM policy needs {action}").format(action=f"{service}:{exc.action}")
    elif code.startswith("RequestLimitExceeded"):
        hint = _("rate limited; run again later")
    elif code in ("ClientNetworkError", "ServerNetworkError") and "CERTIFICATE_VERIFY_FAILED" in exc.message:
        hint = _(
            "the API's TLS certificate is not trusted; behind a TLS-inspecting proxy, name its CA with "
            "REQUESTS_CA_BUNDLE"
        )
    elif code in ("ClientNetworkError", "ServerNetworkError"):
        hint = _("cannot reach the Tencent Cloud API (network or timeout)")
    else:
        hint = _("the API refused the call")
    return _("Tencent Cloud {service}:{action}: {hint} ({code}: {message})").format(
        service=service, action=exc.action, hint=hint, code=code, message=exc.message
    )


class CloudReader:
    """Reads into one CloudFacts item (kubectl_tke_net.cloudrules.new_facts) in batches, one call per kind and page,
    not per object, and keeps what it read; a read that fails is noted under `errors` with the reason and not tried
    again, and an authentication failure (under `unavailable`) stops every later read. Each public method answers
    as the checks' view of the facts does (raising Unavailable for what could not be read)."""

    def __init__(
        self,
        api: Api | None,
        region: str | None,
        unavailable: str | None = None,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.region = region
        self.log = log
        self.clock = clock
        self.doc = new_facts(region, unavailable)
        self.view = CloudView(self.doc)

    @property
    def unavailable(self) -> str | None:
        return self.view.unavailable

    def _call(self, read: str, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.api is None or self.unavailable is not None:
            raise Unavailable("cloud", self.unavailable or _("Tencent Cloud checks are off"))
        errors = self.doc["errors"]
        if read in errors:
            raise Unavailable("cloud", errors[read])
        if self.log:
            shown = {k: v for k, v in params.items() if k != "Filters"}
            self.log(f"tencent cloud: {service}:{action} {json.dumps(shown, sort_keys=True)} ({self.region})")
        try:
            return self.api.call(service, action, params)
        except CloudError as exc:
            errors[read] = _reason(exc, service)
            if exc.code.startswith("AuthFailure"):
                self.doc["unavailable"] = errors[read]  # every later call would fail the same way
            raise Unavailable("cloud", errors[read]) from None

    def _pages(
        self, read: str, service: str, action: str, params: dict[str, Any], *, items: str, strings: bool = False
    ) -> list[dict[str, Any]]:
        """Every item of a paginated Describe call (Offset/Limit, TotalCount); VPC wants them as strings."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = {**params, "Offset": str(offset) if strings else offset, "Limit": str(PAGE) if strings else PAGE}
            resp = self._call(read, service, action, page)
            got = [i for i in resp.get(items) or [] if isinstance(i, dict)]
            out.extend(got)
            offset += len(got)
            if not got or offset >= int(resp.get("TotalCount") or 0):
                return out

    def _read_instances(self, ids: Iterable[str]) -> None:
        known, absent = self.doc[INSTANCES], self.doc["notFound"][INSTANCES]
        missing = sorted({i for i in ids if i not in known and i not in absent})
        for chunk in _chunks(missing, INSTANCE_BATCH):
            params = {"InstanceIds": chunk}
            for item in self._pages(INSTANCES, "cvm", "DescribeInstances", params, items="InstanceSet"):
                inet = item.get("InternetAccessible") or {}
                known[str(item.get("InstanceId"))] = {
                    "SecurityGroupIds": [str(g) for g in item.get("SecurityGroupIds") or ()],
                    "InternetMaxBandwidthOut": int(inet.get("InternetMaxBandwidthOut") or 0),
                    "PublicIpAddresses": [str(a) for a in item.get("PublicIpAddresses") or ()],
                }
            absent.extend(i for i in chunk if i not in known)

    def instances(self, ids: Iterable[str]) -> dict[str, Instance]:
        """CVM instances by ID (DescribeInstances, 100 IDs a call); an unknown ID is left out."""
        ids = list(ids)
        with contextlib.suppress(Unavailable):
            self._read_instances(ids)
        return self.view.instances(ids)

    def _read_templates(self, policies: Iterable[dict[str, Any]]) -> None:
        """Addresses of the address templates and template groups the rules name (two batched describes)."""
        direct: set[str] = set()
        groups: set[str] = set()
        for policy in policies:
            spec = policy.get("AddressTemplate") or {}
            if spec.get("AddressId"):
                direct.add(str(spec["AddressId"]))
            if spec.get("AddressGroupId"):
                groups.add(str(spec["AddressGroupId"]))
        members: dict[str, list[str]] = self.doc["addressTemplateGroups"]
        for chunk in _chunks(sorted(groups - set(members)), FILTER_BATCH):
            filters = [{"Name": "address-template-group-id", "Values": chunk}]
            for item in self._pages(
                TEMPLATES,
                "vpc",
                "DescribeAddressTemplateGroups",
                {"Filters": filters},
                items="AddressTemplateGroupSet",
                strings=True,
            ):
                found = list(item.get("AddressTemplateIdSet") or [])
                found += [
                    t.get("AddressTemplateId") for t in item.get("AddressTemplateSet") or [] if isinstance(t, dict)
                ]
                members[str(item.get("AddressTemplateGroupId"))] = sorted({str(i) for i in found if i})
        templates: dict[str, list[str]] = self.doc[TEMPLATES]
        wanted = sorted((direct | {m for g in groups for m in members.get(g, [])}) - set(templates))
        for chunk in _chunks(wanted, FILTER_BATCH):
            filters = [{"Name": "address-template-id", "Values": chunk}]
            for item in self._pages(
                TEMPLATES,
                "vpc",
                "DescribeAddressTemplates",
                {"Filters": filters},
                items="AddressTemplateSet",
                strings=True,
            ):
                texts = [str(a) for a in item.get("AddressSet") or []]
                texts += [
                    str(e.get("Address"))
                    for e in item.get("AddressExtraSet") or []
                    if isinstance(e, dict) and e.get("Address")
                ]
                templates[str(item.get("AddressTemplateId"))] = sorted(set(texts))

    def _read_security_groups(self, ids: Iterable[str]) -> None:
        known: dict[str, list[dict[str, Any]]] = self.doc[SECURITY_GROUPS]
        wanted = sorted({i for i in ids if i not in known})
        read: list[dict[str, Any]] = []
        for sg in wanted:
            resp = self._call(SECURITY_GROUPS, "vpc", "DescribeSecurityGroupPolicies", {"SecurityGroupId": sg})
            policy_set = resp.get("SecurityGroupPolicySet") or {}
            known[sg] = [p for p in policy_set.get("Ingress") or [] if isinstance(p, dict)]
            read += known[sg]
        # On failure the rules that name templates stay opaque, and never decide a verdict.
        with contextlib.suppress(Unavailable):
            self._read_templates(read)

    def security_groups(self, ids: Iterable[str]) -> dict[str, SecurityGroup]:
        """Inbound rules of each security group (DescribeSecurityGroupPolicies takes one group per call)."""
        ids = list(ids)
        with contextlib.suppress(Unavailable):
            self._read_security_groups(ids)
        return self.view.security_groups(ids)

    def _read_load_balancers(self, ids: Iterable[str]) -> None:
        known, absent = self.doc[LOAD_BALANCERS], self.doc["notFound"][LOAD_BALANCERS]
        missing = sorted({i for i in ids if i not in known and i not in absent})
        for chunk in _chunks(missing, LB_BATCH):
            for item in self._pages(
                LOAD_BALANCERS, "clb", "DescribeLoadBalancers", {"LoadBalancerIds": chunk}, items="LoadBalancerSet"
            ):
                known[str(item.get("LoadBalancerId"))] = {
                    "LoadBalancerType": str(item.get("LoadBalancerType") or ""),
                    "SecureGroups": [str(g) for g in item.get("SecureGroups") or ()],
                    "LoadBalancerPassToTarget": bool(item.get("LoadBalancerPassToTarget")),
                    "LoadBalancerVips": [str(v) for v in item.get("LoadBalancerVips") or ()],
                }
            absent.extend(i for i in chunk if i not in known)

    def load_balancers(self, ids: Iterable[str]) -> dict[str, LoadBalancer]:
        """CLB instances by ID (DescribeLoadBalancers, 20 IDs a call)."""
        ids = list(ids)
        with contextlib.suppress(Unavailable):
            self._read_load_balancers(ids)
        return self.view.load_balancers(ids)

    def _read_certificates(self, ids: Iterable[str]) -> None:
        """The SSL certificates by ID (DescribeCertificates with CertIds, 100 IDs a call, pages followed), and the
        time they were read (readAt), against which TKE406 judges their expiry."""
        known: dict[str, dict[str, Any]] = self.doc.setdefault(CERTIFICATES, {})
        absent: list[str] = self.doc["notFound"].setdefault(CERTIFICATES, [])
        missing = sorted({i for i in ids if i not in known and i not in absent})
        for chunk in _chunks(missing, CERT_BATCH):
            self.doc.setdefault(READ_AT, self.clock().astimezone(UTC).isoformat(timespec="seconds"))
            for item in self._pages(
                CERTIFICATES, "ssl", "DescribeCertificates", {"CertIds": chunk}, items="Certificates"
            ):
                cid = str(item.get("CertificateId"))
                if cid not in chunk:
                    continue  # CertIds filters; anything else the API sends is not what was asked
                status = item.get("Status")
                known[cid] = {
                    "CertificateType": str(item.get("CertificateType") or ""),
                    "Status": status if isinstance(status, int) and not isinstance(status, bool) else None,
                    "CertEndTime": str(item.get("CertEndTime") or ""),
                    "Domain": str(item.get("Domain") or ""),
                }
            absent.extend(i for i in chunk if i not in known)

    def certificates(self, ids: Iterable[str]) -> dict[str, Certificate]:
        """SSL certificates by ID (DescribeCertificates, 100 IDs a call)."""
        ids = list(ids)
        with contextlib.suppress(Unavailable):
            self._read_certificates(ids)
        return self.view.certificates(ids)

    def _read_account_type(self) -> None:
        if ACCOUNT not in self.doc:
            resp = self._call(ACCOUNT, "vpc", "DescribeNetworkAccountType", {})
            self.doc[ACCOUNT] = str(resp.get("NetworkAccountType") or "")

    def account_type(self) -> str:
        """STANDARD (bandwidth on the CLB) or LEGACY (bandwidth on the backend CVMs): DescribeNetworkAccountType."""
        with contextlib.suppress(Unavailable):
            self._read_account_type()
        return self.view.account_type()

    def read(self, wants: Wants) -> None:
        """What the checks asked for, each kind in its batches: the CLBs first (whether a Service passes traffic to
        its targets decides whether its nodes are judged), then instances, security groups, the account type."""
        steps: list[tuple[bool, Callable[[], None]]] = [
            (bool(wants.load_balancers), lambda: self._read_load_balancers(wants.load_balancers)),
            (bool(wants.instances), lambda: self._read_instances(wants.instances)),
            (bool(wants.security_groups), lambda: self._read_security_groups(wants.security_groups)),
            (wants.account, self._read_account_type),
            (bool(wants.certificates), lambda: self._read_certificates(wants.certificates)),
        ]
        for wanted_now, step in steps:
            if wanted_now:
                with contextlib.suppress(Unavailable):
                    step()

    def fill(self, wants_of: Callable[[CloudView], Wants], rounds: int = 8) -> dict[str, Any]:
        """Read, up front, exactly what the checks will ask for: `wants_of` runs them on a planning view of the
        facts read so far and says what they asked for that is not there; read it and ask again, until they ask for
        nothing new (each round is one dependency deeper: CLBs, then instances, then their security groups)."""
        for _round in range(rounds):
            wants = wants_of(CloudView(self.doc, wants=Wants()))
            if not wants or self.unavailable is not None:
                break
            before = json.dumps(self.doc, sort_keys=True)
            self.read(wants)
            if json.dumps(self.doc, sort_keys=True) == before:
                break  # nothing more could be read; the checks report what is missing
        return self.doc


# --- the SDK -----------------------------------------------------------------------------------------------


def scrub(text: str, creds: Credentials) -> str:
    """`text` without the secret key, the token or the key's ID, whatever an error message or a server echoed
    (the reasons are kept in the CloudFacts that `dump` writes, which must hold no credential)."""
    for secret in (creds.secret_key, creds.token, creds.secret_id):
        if secret:
            text = text.replace(secret, "***")
    return text


class SdkApi:
    """The official SDK's product clients (cvm, vpc, clb, ssl), one per service, called with JSON parameters."""

    def __init__(
        self, creds: Credentials, region: str, timeout: float | None, endpoint: str | None, ca_bundle: str | None = None
    ) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        self.creds = creds
        self.region = region
        self._clients: dict[str, Any] = {}
        self._cred = credential.Credential(creds.secret_id, creds.secret_key, creds.token)

        def profile(service: str) -> Any:
            # The SDK verifies against certifi's bundle unless told otherwise; behind a TLS-inspecting proxy the
            # usual REQUESTS_CA_BUNDLE / SSL_CERT_FILE name the CA to trust instead.
            http = HttpProfile(certification=ca_bundle)
            http.reqTimeout = timeout  # --request-timeout, as for the API server; None (0) waits as long as it takes
            if endpoint:
                url = endpoint.replace("{service}", service)
                scheme, _sep, host = url.rpartition("://")
                http.protocol = http.scheme = scheme or "https"
                http.endpoint = host.rstrip("/")
            return ClientProfile(httpProfile=http, language="en-US")

        self._profile = profile

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            if service == "cvm":
                from tencentcloud.cvm.v20170312.cvm_client import CvmClient as client
            elif service == "vpc":
                from tencentcloud.vpc.v20170312.vpc_client import VpcClient as client
            elif service == "ssl":
                from tencentcloud.ssl.v20191205.ssl_client import SslClient as client
            else:
                from tencentcloud.clb.v20180317.clb_client import ClbClient as client
            self._clients[service] = client(self._cred, self.region, self._profile(service))
        return self._clients[service]

    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            body = self._client(service).call_json(action, params)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "ClientError")
            message = scrub(str(exc.get_message() or ""), self.creds)
            raise CloudError(code, _one_line(message), action) from None
        except Exception as exc:  # the SDK lets some transport and decoding errors through unwrapped
            raise CloudError("ClientNetworkError", _one_line(scrub(str(exc), self.creds)), action) from None
        resp = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(resp, dict):
            raise CloudError("InvalidResponse", "no Response object", action)
        return resp


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


# --- wiring for the CLI ------------------------------------------------------------------------------------


def wanted(cloud_flag: bool | None, snapshot: bool, select: Sequence[str], creds: Credentials | None) -> bool:
    """Whether this run reads Tencent Cloud: --cloud (or --select naming TKE4xx) asks for it; --no-cloud
    refuses; otherwise live runs do with credentials. A --snapshot run is offline unless asked."""
    if cloud_flag is False:
        return False
    if cloud_flag or any(code.startswith(CLOUD_PREFIX) for code in select):
        return True
    return not snapshot and creds is not None


def open_reader(
    *,
    cloud_flag: bool | None,
    region_flag: str | None,
    snapshot: bool,
    select: Sequence[str],
    nodes: Callable[[], list[dict[str, Any]]],
    timeout: float | None,
    log: Callable[[str], None] | None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> CloudReader | None:
    """The run's reader of Tencent Cloud, or None when the cloud checks are off (they are then left out
    altogether); without credentials, region or SDK, a reader whose facts say why (the checks are skipped)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    creds = find_credentials(env, home)
    if not wanted(cloud_flag, snapshot, select, creds):
        return None
    if creds is None:
        return CloudReader(
            None,
            None,
            _("no Tencent Cloud credentials: set {id} and {key}, or run `tccli configure`").format(
                id=ENV_SECRET_ID, key=ENV_SECRET_KEY
            ),
        )
    region = resolve_region(region_flag, env, nodes(), home)
    if not region:
        return CloudReader(
            None,
            None,
            _("Tencent Cloud region unknown: pass --region (e.g. ap-guangzhou) or set {env}").format(env=ENV_REGION),
        )
    if log:
        log(f"tencent cloud: region {region}, credentials from {creds.source}")
    try:
        api: Api = SdkApi(
            creds,
            region,
            timeout,
            env.get(ENV_ENDPOINT) or None,
            env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE") or None,
        )
    except ImportError:
        return CloudReader(
            None, region, _("the Tencent Cloud SDK is not installed: pip install 'kubectl-tke-net[cloud]'")
        )
    return CloudReader(api, region, log=log)
