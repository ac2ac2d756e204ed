"""Reliability: the fault matrix (one module per fault family) and its harness."""
