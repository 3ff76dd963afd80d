"""Sources: the only code that does I/O: the cluster (HTTP), the kubeconfig, files, Tencent Cloud, probe Pods."""
