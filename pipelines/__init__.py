"""Deployable entry points for scheduled roadseg runs (see pipelines/README.md)."""
