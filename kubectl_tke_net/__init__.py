"""kubectl tke-net: diagnose and fix Service and Ingress networking on Tencent Kubernetes Engine."""

__version__ = "0.1.0"
