"""Ingress checks TKE201-TKE211: from the CLB rule to the Service, its port and its Pods."""

from __future__ import annotations
