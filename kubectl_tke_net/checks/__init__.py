"""The checks: pure functions of a run's facts, one module per area (service, ingress, loopback, probe,
cloud); `registry` holds them, `catalog` chooses and runs them."""
