"""Attacks on the server, each tried for real and refused (issue 19)."""
