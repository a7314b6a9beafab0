"""Command-line interface: ``sla-planner <command>``."""
