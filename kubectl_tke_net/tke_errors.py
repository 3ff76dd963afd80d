"""The TKE controllers' error codes (`E4xxx`, `E5xxx`, `E6xxx`, `W1xxx`) as data, keyed by (kind, code).

The service controller and the ingress controller number their codes separately: E4005 is a bad
`extensiveParameters` on a Service but the forwarding-rule quota on an Ingress, so every lookup takes the kind of
the event's involved object. Each row says what the code means and what to do, in English and Simplified Chinese
(the run's language picks one; gettext is not used because the rows are data, not program text), and the source
it was taken from (see `SOURCES`). Texts are paraphrases of the sources, not quotations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SERVICE = "Service"
INGRESS = "Ingress"

SOURCES = {
    "S1": "https://cloud.tencent.com/document/product/457/81004 (Service&Ingress常见报错和处理)",
    "S2": "imroc/tke-guide docs/appendix/ingress-error-code.md",
    "S4": "tencentyun/qcloud-documents 容器服务/故障处理/CLB Ingress 创建报错排障处理.md",
}

# An event message embeds its code as a word: "E4041 Service Not Found", "... Code:\"E4009\" ...".
CODE_IN_TEXT = re.compile(r"\b([EW]\d{4})\b")
CODE = re.compile(r"[EW]\d{4}")


@dataclass(frozen=True)
class ErrorCode:
    kind: str  # SERVICE or INGRESS: the kind of the object the event is about
    code: str
    meaning: tuple[str, str]  # (en, zh)
    fix: tuple[str, str]  # (en, zh)
    source: str  # a key of SOURCES


def _rows(kind: str, source: str, *rows: tuple[str, str, str, str, str]) -> list[ErrorCode]:
    return [ErrorCode(kind, code, (m_en, m_zh), (f_en, f_zh), source) for code, m_en, m_zh, f_en, f_zh in rows]


_SERVICE = _rows(
    SERVICE,
    "S1",
    (
        "E4001",
        "the TKE service role (TKE_QCSRole) is not authorized",
        "TKE 服务角色（TKE_QCSRole）未授权",
        "grant the TKE service role again in the CAM console",
        "在访问管理（CAM）控制台重新授予 TKE 服务角色",
    ),
    (
        "E4004",
        "CLB count over quota",
        "CLB 数量超过配额",
        "ask for a CLB quota increase (ticket)",
        "提工单申请提高 CLB 配额",
    ),
    (
        "E4005",
        "CLB creation parameters invalid",
        "CLB 创建参数不合法",
        "fix service.kubernetes.io/service.extensiveParameters (a JSON object)",
        "修正 service.kubernetes.io/service.extensiveParameters（JSON 对象）",
    ),
    (
        "E4008",
        "the subnet has no free IP address",
        "子网没有可用 IP",
        "use another subnet, create a new one, or use a public CLB",
        "换用其他子网、新建子网，或改用公网 CLB",
    ),
    ("E4009", "the account is in arrears", "账号欠费", "top up the account", "为账号充值"),
    (
        "E4011",
        "the existing CLB named in service.kubernetes.io/tke-existed-lbid does not exist",
        "service.kubernetes.io/tke-existed-lbid 指定的已有 CLB 不存在",
        "use the ID of a real CLB in the cluster's VPC",
        "使用集群所在 VPC 中真实存在的 CLB ID",
    ),
    (
        "E4012",
        "the existing CLB is managed by another TKE resource",
        "已有 CLB 被其他 TKE 资源管理",
        "reuse only CLBs created in the CLB console",
        "只复用在 CLB 控制台创建的 CLB",
    ),
    (
        "E4013",
        "the existing CLB is used by another cluster",
        "已有 CLB 被其他集群使用",
        "do not reuse a CLB across clusters",
        "不要跨集群复用 CLB",
    ),
    (
        "E4014",
        "port conflict on a reused CLB",
        "复用的 CLB 上端口冲突",
        "give each Service sharing the CLB its own ports",
        "为复用同一 CLB 的每个 Service 使用不同端口",
    ),
    (
        "E4016",
        "CLB reuse is not enabled for this account or cluster",
        "账号或集群未开通 CLB 复用",
        "ask for the CLB reuse allow-list (ticket)",
        "提工单申请 CLB 复用白名单",
    ),
    (
        "E4026",
        "the TkeServiceConfig named by the Service does not exist (does not block the sync)",
        "Service 引用的 TkeServiceConfig 不存在（不阻塞同步）",
        "create the TkeServiceConfig or remove the annotation",
        "创建该 TkeServiceConfig 或删除该注解",
    ),
    (
        "E4033",
        "direct access is on, but no backend supports it",
        "开启了直连，但没有后端支持直连",
        "run the Pods on VPC-CNI without hostNetwork, or remove direct-access",
        "使用 VPC-CNI 且非 hostNetwork 的 Pod，或删除 direct-access 注解",
    ),
    (
        "E4036",
        "a backend (VIP, listener port, backend IP, backend port) is not unique",
        "后端四元组（VIP、监听端口、后端 IP、后端端口）不唯一",
        "have the Service ports target separate Pod ports",
        "让各个 Service 端口指向不同的 Pod 端口",
    ),
    ("E4037", "the subnet does not exist", "子网不存在", "fix the subnet ID", "修正子网 ID"),
    (
        "E4062",
        "the certificate (specify-protocol TLS Secret) has expired",
        "证书（specify-protocol 的 TLS Secret）已过期",
        "upload a new certificate and put its ID in the Secret",
        "上传新证书，并更新 Secret 中的证书 ID",
    ),
    (
        "E4075",
        "cross-region binding: wrong region ID",
        "跨地域绑定：地域 ID 错误",
        "fix service.cloud.tencent.com/cross-region-id",
        "修正 service.cloud.tencent.com/cross-region-id",
    ),
)

_INGRESS_S1 = _rows(
    INGRESS,
    "S1",
    (
        "E4003",
        "CLB count over quota",
        "CLB 数量超过配额",
        "ask for a CLB quota increase (ticket)",
        "提工单申请提高 CLB 配额",
    ),
    (
        "E4005",
        "forwarding-rule quota exceeded",
        "转发规则数量超过配额",
        "ask for a rule quota increase (ticket) or use fewer host/path rules",
        "提工单申请提高配额，或减少 host/path 规则",
    ),
    (
        "E4008",
        "the TKE service role (TKE_QCSRole) authorization was removed",
        "TKE 服务角色（TKE_QCSRole）授权被删除",
        "grant the TKE service role again in the CAM console",
        "在访问管理（CAM）控制台重新授予 TKE 服务角色",
    ),
    (
        "E4009",
        "a spec.tls entry has no secretName",
        "spec.tls 中有条目没有 secretName",
        "set secretName, or remove the TLS entry",
        "设置 secretName，或删除该 TLS 条目",
    ),
    (
        "E4010",
        "the TLS Secret does not exist",
        "TLS Secret 不存在",
        "create the Secret in the Ingress's namespace",
        "在 Ingress 所在命名空间创建该 Secret",
    ),
    (
        "E4011",
        "the TLS Secret has no qcloud_cert_id key",
        "TLS Secret 中没有 qcloud_cert_id 键",
        "put the certificate ID under the key qcloud_cert_id",
        "将证书 ID 写入键 qcloud_cert_id",
    ),
    (
        "E4012",
        "the certificate is abnormal or its ID is unknown",
        "证书状态异常或证书 ID 不存在",
        "fix the certificate ID",
        "修正证书 ID",
    ),
    (
        "E4018",
        "the CLB named in kubernetes.io/ingress.existLbId does not exist",
        "kubernetes.io/ingress.existLbId 指定的 CLB 不存在",
        "fix the CLB ID",
        "修正 CLB ID",
    ),
    (
        "E4019",
        "the existing CLB was created by TKE",
        "已有 CLB 是 TKE 创建的",
        "reuse only CLBs created in the CLB console",
        "只复用在 CLB 控制台创建的 CLB",
    ),
    (
        "E4020",
        "the existing CLB is used by another Ingress",
        "已有 CLB 被其他 Ingress 使用",
        "use another CLB",
        "换用其他 CLB",
    ),
    (
        "E4021",
        "the existing CLB still has listeners",
        "已有 CLB 上仍有监听器",
        "delete the CLB's listeners first",
        "先删除该 CLB 的监听器",
    ),
    (
        "E4022",
        "kubernetes.io/ingress.http-rules is malformed",
        "kubernetes.io/ingress.http-rules 格式错误",
        "write it as a valid JSON array",
        "写成合法的 JSON 数组",
    ),
    (
        "E4023",
        "kubernetes.io/ingress.https-rules is malformed",
        "kubernetes.io/ingress.https-rules 格式错误",
        "write it as a valid JSON array",
        "写成合法的 JSON 数组",
    ),
    (
        "E4031",
        "invalid path: regular expressions are not supported; a path starts with /, has 1-120 characters "
        "from a-z A-Z 0-9 . - / = ?",
        "路径不合法：不支持正则；路径须以 / 开头，长度 1-120，字符限 a-z A-Z 0-9 . - / = ?",
        "fix the path",
        "修正路径",
    ),
    (
        "E4034",
        "an IPv6 CLB needs a host on every rule",
        "IPv6 CLB 的每条规则都需要 host",
        "add a host to every rule",
        "为每条规则添加 host",
    ),
    ("E4035", "the certificate ID format is wrong", "证书 ID 格式错误", "fix the certificate ID", "修正证书 ID"),
    (
        "E4038",
        "a client certificate was given where a server certificate is needed",
        "使用了客户端证书，需要服务端证书",
        "use a server certificate",
        "使用服务端证书",
    ),
    ("E4039", "the certificate has expired", "证书已过期", "renew the certificate", "更新证书"),
    (
        "E4040",
        "a host has no certificate (SNI)",
        "有 host 没有对应证书（SNI）",
        "add a tls entry whose hosts cover it",
        "添加覆盖该 host 的 tls 条目",
    ),
    (
        "E4041",
        "a backend Service does not exist",
        "后端 Service 不存在",
        "create the Service or fix the rule (see TKE201)",
        "创建该 Service 或修正规则（见 TKE201）",
    ),
    (
        "E4042",
        "a backend Service port does not exist",
        "后端 Service 端口不存在",
        "fix the backend's port (see TKE202)",
        "修正后端端口（见 TKE202）",
    ),
    (
        "E4043",
        "the TkeServiceConfig named by the Ingress does not exist (does not block the sync)",
        "Ingress 引用的 TkeServiceConfig 不存在（不阻塞同步）",
        "create the TkeServiceConfig or remove the annotation",
        "创建该 TkeServiceConfig 或删除该注解",
    ),
    (
        "E4044",
        'kubernetes.io/ingress.rule-mix is not "true" or "false"',
        'kubernetes.io/ingress.rule-mix 的值不是 "true" 或 "false"',
        'set it to "true" or "false"',
        '改为 "true" 或 "false"',
    ),
    (
        "E4046",
        "the bandwidth annotation is invalid (1-2048)",
        "带宽注解不合法（1-2048）",
        "set kubernetes.io/ingress.internetMaxBandwidthOut to 1-2048",
        "将 kubernetes.io/ingress.internetMaxBandwidthOut 设为 1-2048",
    ),
    (
        "E4047",
        "a backend Service is of type ClusterIP",
        "后端 Service 类型为 ClusterIP",
        "make it NodePort, or use direct access (see TKE203)",
        "改为 NodePort，或使用直连（见 TKE203）",
    ),
    (
        "E4048",
        "more than one default certificate (tls entries without hosts)",
        "默认证书多于一个（没有 hosts 的 tls 条目）",
        "keep one tls entry without hosts",
        "只保留一个没有 hosts 的 tls 条目",
    ),
    (
        "E4049",
        "one host appears in several tls entries",
        "同一 host 出现在多个 tls 条目中",
        "keep the host in one tls entry",
        "只在一个 tls 条目中保留该 host",
    ),
    (
        "E4051",
        "a custom TkeServiceConfig name ends in -auto-ingress-config or -auto-service-config",
        "自定义 TkeServiceConfig 名称以 -auto-ingress-config 或 -auto-service-config 结尾",
        "rename the TkeServiceConfig",
        "重命名该 TkeServiceConfig",
    ),
    (
        "E4052",
        "a host is not a valid domain (lower case, with at least one dot; * only as the first label)",
        "host 不是合法域名（小写、至少含一个点；* 只能是第一段）",
        "fix the host",
        "修正 host",
    ),
    ("E4053", "the subnet has no free IP address", "子网 IP 已耗尽", "use another subnet", "换用其他子网"),
    (
        "E4054",
        "backend count over quota (200 per CLB by default)",
        "后端数量超过配额（默认每个 CLB 200 个）",
        "ask for a quota increase (ticket) or bind fewer backends",
        "提工单申请提高配额，或减少绑定的后端",
    ),
    ("E4055", "the subnet does not exist or is malformed", "子网不存在或格式错误", "fix the subnet ID", "修正子网 ID"),
    (
        "E4060",
        "SNAT Pro is not allow-listed for the account",
        "账号未开通 SNAT Pro 白名单",
        "ask for the allow-list (ticket)",
        "提工单申请白名单",
    ),
    (
        "E4066",
        "cluster initialization failed: the CRD cannot be created",
        "集群初始化失败：无法创建 CRD",
        "open a ticket",
        "提工单处理",
    ),
    (
        "E4068",
        "auto-redirect conflicts with other rules",
        "自动重定向与其他规则冲突",
        "do not combine auto-rewrite with overlapping rules",
        "不要将 auto-rewrite 与重叠的规则混用",
    ),
    (
        "E4071",
        "cross-region: the CLB's VPC and the cluster's VPC are not in one CCN",
        "跨地域：CLB 所在 VPC 与集群 VPC 不在同一云联网",
        "attach both VPCs to one CCN",
        "将两个 VPC 加入同一云联网",
    ),
    (
        "E4074",
        "binding backends failed; a node may be blocked for arrears",
        "后端绑定失败，节点可能因欠费被封禁",
        "check the nodes' billing status",
        "检查节点的计费状态",
    ),
    (
        "E4081",
        "kubernetes.io/ingress.https-rules conflict",
        "kubernetes.io/ingress.https-rules 冲突",
        "edit the rules in the console",
        "在控制台修改规则",
    ),
    (
        "E4082",
        "direct access with a Service that has no selector",
        "直连模式下后端 Service 没有 selector",
        "use NodePort for that Service",
        "该 Service 改用 NodePort",
    ),
    (
        "E4084",
        "cross-region 1.0 cannot use SNAT Pro",
        "跨地域 1.0 不能使用 SNAT Pro",
        "redesign without SNAT Pro",
        "不使用 SNAT Pro 重新设计",
    ),
    (
        "E4098",
        "the existing CLB ID is malformed",
        "已有 CLB ID 格式错误",
        "fix the CLB ID (lb-xxxxxxxx)",
        "修正 CLB ID（lb-xxxxxxxx）",
    ),
    (
        "E4101",
        "listener conflict on the existing CLB (80/443 in use)",
        "已有 CLB 监听器冲突（80/443 已被占用）",
        "free the ports on the CLB",
        "释放 CLB 上的这些端口",
    ),
)

_INGRESS_S2 = _rows(
    INGRESS,
    "S2",
    (
        "E4000",
        "CreateLoadBalancer rate limit (RequestLimitExceeded), retried",
        "CreateLoadBalancer 频率超限（RequestLimitExceeded），会重试",
        "nothing: transient",
        "无需处理：暂时性错误",
    ),
    (
        "E4004",
        "listener quota exceeded",
        "监听器数量超过配额",
        "ask for a quota increase (ticket)",
        "提工单申请提高配额",
    ),
    (
        "E4006",
        "a listener cannot be deleted: a redirect rule is on it",
        "监听器上有重定向规则，无法删除",
        "remove the redirect rule",
        "删除该重定向规则",
    ),
    (
        "E4007",
        "Norm AssumeTkeCredential failed (-8017/-8032)",
        "Norm AssumeTkeCredential 失败（-8017/-8032）",
        "usually ip-masq-agent-config nonMasqueradeCIDRs is 0.0.0.0/0: restore the VPC and cluster CIDRs and "
        "restart the controller",
        "通常是 ip-masq-agent-config 的 nonMasqueradeCIDRs 被设为 0.0.0.0/0：恢复为 VPC 与集群网段并重启控制器",
    ),
    (
        "E4013",
        "a rule has no http section (spec.rules[].http is empty)",
        "规则没有 http 部分（spec.rules[].http 为空）",
        "fix the rule",
        "修正该规则",
    ),
    ("E4017", "the CLB's tags were tampered with", "CLB 的标签被篡改", "recreate the Ingress", "重建该 Ingress"),
    (
        "E4024",
        "invalid CLB creation parameters",
        "CLB 创建参数不合法",
        "fix the Ingress's annotations",
        "修正 Ingress 的注解",
    ),
    (
        "E4025",
        "insufficient resources (subnet IPs)",
        "资源不足（子网 IP）",
        "use another subnet",
        "换用其他子网",
    ),
    (
        "E4026",
        "kubernetes.io/ingress.extensiveParameters is not valid JSON",
        "kubernetes.io/ingress.extensiveParameters 不是合法的 JSON",
        "fix the JSON (an object)",
        "修正 JSON（对象）",
    ),
    ("E4027", "the account is in arrears", "账号欠费", "top up the account", "为账号充值"),
    (
        "E4030",
        "a classic CLB cannot host layer-7 rules",
        "传统型 CLB 不支持七层规则",
        "use an application CLB",
        "使用应用型 CLB",
    ),
    (
        "E4032",
        "the AddressIPVersion is not supported",
        "不支持该 AddressIPVersion",
        "fix kubernetes.io/ingress.extensiveParameters",
        "修正 kubernetes.io/ingress.extensiveParameters",
    ),
    (
        "E4033",
        "IPv6 is not available in this region",
        "该地域不支持 IPv6",
        "fix kubernetes.io/ingress.extensiveParameters",
        "修正 kubernetes.io/ingress.extensiveParameters",
    ),
    ("E4036", "the certificate ID does not exist", "证书 ID 不存在", "fix the certificate ID", "修正证书 ID"),
    (
        "E4037",
        'ingress.cloud.tencent.com/direct-access is not "true" or "false"',
        'ingress.cloud.tencent.com/direct-access 的值不是 "true" 或 "false"',
        'set it to "true" or "false"',
        '改为 "true" 或 "false"',
    ),
    (
        "E4045",
        "kubernetes.io/ingress.internetChargeType is invalid",
        "kubernetes.io/ingress.internetChargeType 不合法",
        "use TRAFFIC_POSTPAID_BY_HOUR or BANDWIDTH_POSTPAID_BY_HOUR",
        "使用 TRAFFIC_POSTPAID_BY_HOUR 或 BANDWIDTH_POSTPAID_BY_HOUR",
    ),
    (
        "E4050",
        'ingress.cloud.tencent.com/tke-service-config-auto is not "true" or "false"',
        'ingress.cloud.tencent.com/tke-service-config-auto 的值不是 "true" 或 "false"',
        'set it to "true" or "false"',
        '改为 "true" 或 "false"',
    ),
    (
        "E4091",
        "the subnet in kubernetes.io/ingress.subnetId does not exist",
        "kubernetes.io/ingress.subnetId 指定的子网不存在",
        "fix the subnet ID",
        "修正子网 ID",
    ),
    *[
        (code, f"{what} internal error", f"{what_zh}内部错误", "open a ticket", "提工单处理")
        for code, what, what_zh in (
            ("E5003", "CLB", "CLB "),
            ("E5004", "CVM", "CVM "),
            ("E5005", "TAG", "标签服务"),
            ("E5007", "Norm", "Norm "),
            ("E5008", "TKE", "TKE "),
        )
    ],
    (
        "E5009",
        "binding or unbinding CLB backends partly failed",
        "CLB 批量绑定/解绑后端部分失败",
        "open a ticket",
        "提工单处理",
    ),
    (
        "E6001",
        "the controller cannot read TKE_REGION: ConfigMap kube-system/tke-config is missing",
        "控制器读不到 TKE_REGION：ConfigMap kube-system/tke-config 缺失",
        "recreate the ConfigMap kube-system/tke-config",
        "重建 ConfigMap kube-system/tke-config",
    ),
    (
        "E6002",
        "the controller cannot read TKE_VPC_ID: ConfigMap kube-system/tke-config is missing",
        "控制器读不到 TKE_VPC_ID：ConfigMap kube-system/tke-config 缺失",
        "recreate the ConfigMap kube-system/tke-config",
        "重建 ConfigMap kube-system/tke-config",
    ),
    (
        "E6006",
        "the controller cannot reach clb.internal.tencentcloudapi.com (DNS or network)",
        "控制器无法访问 clb.internal.tencentcloudapi.com（DNS 或网络）",
        "fix the cluster DNS, or add hostAliases to 169.254.0.95 / 169.254.0.28",
        "修复集群 DNS，或添加指向 169.254.0.95 / 169.254.0.28 的 hostAliases",
    ),
    (
        "E6007",
        "ingress controller internal error",
        "Ingress 控制器内部错误",
        "open a ticket",
        "提工单处理",
    ),
    (
        "W1000",
        "the backend Service is not in the controller's cache yet (informational)",
        "后端 Service 尚未进入控制器缓存（提示）",
        "nothing, unless it persists",
        "无需处理，除非持续出现",
    ),
    (
        "W1001",
        "the CLB was not deleted: it has no tke-createdBy-flag tag (informational)",
        "CLB 未被删除：没有 tke-createdBy-flag 标签（提示）",
        "delete the CLB by hand if it is no longer needed",
        "如不再需要，请手动删除该 CLB",
    ),
    (
        "W1002",
        "a listener was not deleted because it was renamed (informational)",
        "监听器已被改名，未被删除（提示）",
        "delete the listener by hand if it is no longer needed",
        "如不再需要，请手动删除该监听器",
    ),
)

_INGRESS_S4 = _rows(
    INGRESS,
    "S4",
    (
        "E6009",
        "ingress controller internal error; also what an old nginx-ingress (< 1.0) ValidatingWebhook that "
        "rejects networking.k8s.io/v1 Ingresses causes",
        "Ingress 控制器内部错误；旧版 nginx-ingress（< 1.0）拒绝 networking.k8s.io/v1 的 ValidatingWebhook 也会导致",
        "upgrade nginx-ingress, or fix the webhook's rules (apiVersions)",
        "升级 nginx-ingress，或修正该 webhook 的规则（apiVersions）",
    ),
)

CATALOGUE: dict[tuple[str, str], ErrorCode] = {
    (row.kind, row.code): row for row in (*_SERVICE, *_INGRESS_S1, *_INGRESS_S2, *_INGRESS_S4)
}


def lookup(kind: str, code: str) -> ErrorCode | None:
    """The entry of a code for the kind of object an event is about (Service or Ingress)."""
    return CATALOGUE.get((kind, code.upper()))


def entries(code: str) -> list[ErrorCode]:
    """Every kind's entry of a code (`checks E4009`): Service first, then Ingress."""
    return [row for kind in (SERVICE, INGRESS) if (row := CATALOGUE.get((kind, code.upper()))) is not None]


def codes_in(text: str) -> list[str]:
    """The controller codes an event message carries, in order, each once."""
    return list(dict.fromkeys(CODE_IN_TEXT.findall(text)))


def is_code(text: str) -> bool:
    return CODE.fullmatch(text.upper()) is not None
