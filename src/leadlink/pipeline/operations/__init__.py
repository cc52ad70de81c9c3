"""Running the system: the worker and its jobs, alerts, job freshness, `check`, the demo and
the API tokens."""
