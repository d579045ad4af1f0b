"""Asynchronous operations: records, progress, logs and the `/operations` endpoints."""
