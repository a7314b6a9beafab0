"""Profilers that produce performance profiles: GPU kernel timing and live endpoints."""
