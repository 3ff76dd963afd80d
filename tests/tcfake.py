"""A fake Tencent Cloud API on 127.0.0.1: checks the TC3-HMAC-SHA256 signature of every request as the real API
does, answers the read-only actions the plugin uses with bodies shaped like the API reference's examples,
paginates, records every call, and can fail or stall an action on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSIONS = {"cvm": "2017-03-12", "vpc": "2017-03-12", "clb": "2018-03-17", "ssl": "2019-12-05"}
ACTIONS = {
    "DescribeInstances": "cvm",
    "DescribeSecurityGroupPolicies": "vpc",
    "DescribeAddressTemplates": "vpc",
    "DescribeAddressTemplateGroups": "vpc",
    "DescribeNetworkAccountType": "vpc",
    "DescribeLoadBalancers": "clb",
    "DescribeCertificates": "ssl",
}
ERROR_MESSAGES = {
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. Please check your signature "
    "is correct.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your SecretId is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp is too far from the current server time.",
    "AuthFailure.TokenFailure": "Token verification failed.",
    "UnauthorizedOperation": "You are not authorized to perform this operation.",
    "RequestLimitExceeded": "Your current request times exceeds the limit, please try again later.",
}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    k_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    k_service = _hmac(k_date, service)
    k_signing = _hmac(k_service, "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class Call:
    service: str
    action: str
    region: str
    params: dict[str, Any]


@dataclass
class FakeCloud:
    """The account's state (edit it in a test) and what was asked of it."""

    secret_id: str = "AKIDfake0000000000000000000000000000"
    secret_key: str = "fakeSecretKey0000000000000000000000"
    token: str | None = None
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    templates: dict[str, list[str]] = field(default_factory=dict)
    template_groups: dict[str, list[str]] = field(default_factory=dict)
    load_balancers: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_type: str = "STANDARD"
    # SSL certificates by ID: type (SVR or CA), status (1 issued), end ("YYYY-MM-DD HH:MM:SS", Beijing time), domain
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_page: int = 100  # answer at most this many items per page, whatever Limit asks
    fail: dict[str, str] = field(default_factory=dict)  # action -> error code
    slow: set[str] = field(default_factory=set)  # actions that stall until the test ends
    calls: list[Call] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # error codes of refused requests

    def __post_init__(self) -> None:
        self.release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, tls: tuple[str, str] | None = None) -> FakeCloud:
        """Serve on 127.0.0.1; with `tls` (certificate file, key file) over HTTPS, as the real API is."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, doc = fake.handle(dict(self.headers.items()), body)
                data = json.dumps(doc).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def actions(self) -> list[str]:
        return [c.action for c in self.calls]

    # -- requests ---------------------------------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        h = {k.lower(): v for k, v in headers.items()}
        action = h.get("x-tc-action", "")
        error = self._verify(h, body, action)
        if error:
            with self.lock:
                self.rejected.append(error)
            return 200, self._error(error)
        params = json.loads(body or b"{}")
        service = ACTIONS[action]
        with self.lock:
            self.calls.append(Call(service, action, h.get("x-tc-region", ""), params))
        if action in self.slow:
            self.release.wait(30)
        if action in self.fail:
            return 200, self._error(self.fail[action])
        try:
            result = getattr(self, "_" + action)(params)
        except _Invalid as exc:
            return 200, self._error(exc.code, str(exc))
        return 200, {"Response": {**result, "RequestId": str(uuid.uuid4())}}

    def _error(self, code: str, message: str | None = None) -> dict[str, Any]:
        return {
            "Response": {
                "Error": {"Code": code, "Message": message or ERROR_MESSAGES.get(code, code)},
                "RequestId": str(uuid.uuid4()),
            }
        }

    def _verify(self, h: dict[str, str], body: bytes, action: str) -> str | None:
        """The TC3-HMAC-SHA256 check of the real API: recompute the canonical request and the string to sign
        from the request as received, then compare signatures."""
        auth = h.get("authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256 "):
            return "AuthFailure.SignatureFailure"
        fields = dict(part.strip().split("=", 1) for part in auth[len("TC3-HMAC-SHA256 ") :].split(","))
        try:
            secret_id, date, service, terminal = fields["Credential"].split("/")
        except (KeyError, ValueError):
            return "AuthFailure.SignatureFailure"
        if secret_id != self.secret_id:
            return "AuthFailure.SecretIdNotFound"
        timestamp = h.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return "AuthFailure.SignatureExpire"
        if date != datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") or terminal != "tc3_request":
            return "AuthFailure.SignatureFailure"
        if ACTIONS.get(action) != service or h.get("x-tc-version") != VERSIONS[service]:
            return "InvalidAction"
        signed = fields.get("SignedHeaders", "").split(";")
        if "host" not in signed or "content-type" not in signed:
            return "AuthFailure.SignatureFailure"
        canonical_headers = "".join(f"{name}:{h.get(name, '').strip().lower()}\n" for name in signed)
        canonical = "\n".join(["POST", "/", "", canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()])
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                timestamp,
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            ]
        )
        if not hmac.compare_digest(signature(self.secret_key, date, service, to_sign), fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure"
        if self.token is not None and h.get("x-tc-token") != self.token:
            return "AuthFailure.TokenFailure"
        if not h.get("x-tc-region") and action != "DescribeNetworkAccountType":
            return "InvalidParameter"
        return None

    # -- actions ----------------------------------------------------------------------------------------

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any], strings: bool) -> list[dict[str, Any]]:
        offset, limit = params.get("Offset", 0), params.get("Limit", 20)
        if strings != isinstance(offset, str) or strings != isinstance(limit, str):
            raise _Invalid("InvalidParameter", "Offset and Limit have the wrong type")
        offset, limit = int(offset), int(limit)
        if not 0 < limit <= 100:
            raise _Invalid("InvalidParameterValue.Range", "Limit must be between 1 and 100")
        return items[offset : offset + min(limit, self.max_page)]

    def _ids(self, params: dict[str, Any], key: str, most: int) -> list[str] | None:
        ids = params.get(key)
        if ids is not None and len(ids) > most:
            raise _Invalid("InvalidParameterValue.LimitExceeded", f"{key} takes at most {most} values")
        return ids

    def _filter(self, params: dict[str, Any], name: str) -> list[str] | None:
        for f in params.get("Filters") or []:
            if f["Name"] == name:
                if len(f["Values"]) > 5:
                    raise _Invalid("InvalidParameterValue.LimitExceeded", "Filter.Values takes at most 5 values")
                return list(f["Values"])
        return None

    def _DescribeInstances(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._ids(params, "InstanceIds", 100)
        found = [self._instance(i) for i in sorted(self.instances) if ids is None or i in ids]
        return {"TotalCount": len(found), "InstanceSet": self._page(found, params, strings=False)}

    def _instance(self, iid: str) -> dict[str, Any]:
        spec = self.instances[iid]
        bandwidth = spec.get("bandwidth", 0)
        return {
            "Placement": {"Zone": "ap-guangzhou-3", "ProjectId": 0},
            "InstanceId": iid,
            "InstanceType": "S5.MEDIUM4",
            "CPU": 2,
            "Memory": 4,
            "InstanceName": f"tke_{iid}",
            "InstanceChargeType": "POSTPAID_BY_HOUR",
            "PrivateIpAddresses": [spec.get("ip", "10.0.0.2")],
            "PublicIpAddresses": ["119.28.10.2"] if bandwidth else None,
            "InternetAccessible": {
                "InternetChargeType": "TRAFFIC_POSTPAID_BY_HOUR",
                "InternetMaxBandwidthOut": bandwidth,
                "PublicIpAssigned": bool(bandwidth),
            },
            "VirtualPrivateCloud": {"VpcId": "vpc-fake0001", "SubnetId": "subnet-fake0001", "AsVpcGateway": False},
            "SecurityGroupIds": list(spec.get("security_groups", [])),
            "InstanceState": "RUNNING",
        }

    def _DescribeSecurityGroupPolicies(self, params: dict[str, Any]) -> dict[str, Any]:
        sg = params.get("SecurityGroupId")
        if sg not in self.policies:
            raise _Invalid("ResourceNotFound", f"security group {sg} does not exist")
        ingress = [
            {
                "PolicyIndex": i,
                "Protocol": "",
                "Port": "",
                "CidrBlock": "",
                "Ipv6CidrBlock": "",
                "SecurityGroupId": "",
                "AddressTemplate": {"AddressId": "", "AddressGroupId": ""},
                "ServiceTemplate": {"ServiceId": "", "ServiceGroupId": ""},
                "Action": "ACCEPT",
                "PolicyDescription": "",
                "ModifyTime": "2026-01-01 00:00:00",
                **rule,
            }
            for i, rule in enumerate(self.policies[str(sg)])
        ]
        return {
            "SecurityGroupPolicySet": {
                "Version": "3",
                "Egress": [],
                "Ingress": ingress,
                "PolicyStatistics": {"IngressPolicyCount": len(ingress), "EgressPolicyCount": 0},
            }
        }

    def _DescribeAddressTemplates(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._filter(params, "address-template-id")
        found = [
            {
                "AddressTemplateName": f"name-{t}",
                "AddressTemplateId": t,
                "AddressSet": addrs,
                "AddressExtraSet": [{"Address": a, "Description": ""} for a in addrs],
                "CreatedTime": "2026-01-01 00:00:00",
                "UpdatedTime": "2026-01-01 00:00:00",
                "TagSet": [],
            }
            for t, addrs in sorted(self.templates.items())
            if ids is None or t in ids
        ]
        return {"TotalCount": len(found), "AddressTemplateSet": self._page(found, params, strings=True)}

    def _DescribeAddressTemplateGroups(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._filter(params, "address-template-group-id")
        found = [
            {
                "AddressTemplateGroupName": f"name-{g}",
                "AddressTemplateGroupId": g,
                "AddressTemplateIdSet": members,
                "CreatedTime": "2026-01-01 00:00:00",
                "UpdatedTime": "2026-01-01 00:00:00",
                "AddressTemplateSet": [{"AddressTemplateId": m, "UpdatedTime": ""} for m in members],
                "TagSet": [],
            }
            for g, members in sorted(self.template_groups.items())
            if ids is None or g in ids
        ]
        return {"TotalCount": len(found), "AddressTemplateGroupSet": self._page(found, params, strings=True)}

    def _DescribeLoadBalancers(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._ids(params, "LoadBalancerIds", 20)
        found = [
            {
                "LoadBalancerId": lid,
                "LoadBalancerName": f"name-{lid}",
                "LoadBalancerType": spec.get("type", "OPEN"),
                "Forward": 1,
                "Domain": "",
                "LoadBalancerVips": spec.get("vips", ["119.29.0.9"]),
                "Status": 1,
                "CreateTime": "2026-01-01 00:00:00",
                "StatusTime": "2026-01-01 00:00:00",
                "ProjectId": 0,
                "VpcId": "vpc-fake0001",
                "SecureGroups": spec.get("security_groups", []),
                "LoadBalancerPassToTarget": spec.get("pass_to_target", False),
                "AddressIPVersion": "ipv4",
            }
            for lid, spec in sorted(self.load_balancers.items())
            if ids is None or lid in ids
        ]
        return {"TotalCount": len(found), "LoadBalancerSet": self._page(found, params, strings=False)}

    def _DescribeCertificates(self, params: dict[str, Any]) -> dict[str, Any]:
        """The fields of tencentcloud/ssl/v20191205/models.py's Certificates, for the certificates CertIds names
        (every one of the account without it); an ID the account does not have is simply not in the answer."""
        ids = params.get("CertIds")
        found = [
            {
                "OwnerUin": "100000000001",
                "ProjectId": "0",
                "From": "upload",
                "PackageType": None,
                "CertificateType": spec.get("type", "SVR"),
                "ProductZhName": None,
                "Domain": spec.get("domain", "shop.example.com"),
                "Alias": f"alias-{cid}",
                "Status": spec.get("status", 1),
                "StatusMsg": None,
                "VerifyType": None,
                "CertBeginTime": "2025-01-01 08:00:00",
                "CertEndTime": spec.get("end", "2099-01-01 07:59:59"),
                "ValidityPeriod": "12",
                "InsertTime": "2025-01-01 08:00:00",
                "CertificateId": cid,
                "SubjectAltName": [spec.get("domain", "shop.example.com")],
                "StatusName": "证书已颁发" if spec.get("status", 1) == 1 else "",
                "IsWildcard": False,
                "Deployable": True,
                "Tags": [],
            }
            for cid, spec in sorted(self.certificates.items())
            if ids is None or cid in ids
        ]
        return {"TotalCount": len(found), "Certificates": self._page(found, params, strings=False)}

    def _DescribeNetworkAccountType(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"NetworkAccountType": self.account_type}


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
