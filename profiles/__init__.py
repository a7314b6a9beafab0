"""The measured performance profiles shipped with sla-planner, as package data.

Each folder holds one profile (``profile.json`` in sla-planner's format, the upstream
files it came from, and a ``SOURCE.md`` with provenance and licence). Being a package
lets an editable install, a wheel and the container image find them the same way:
through ``importlib.resources`` (see ``planner.perf.profile.shipped_profile``).
"""

#: the folder name of the profile the planner uses when none is configured
DEFAULT_PROFILE = "h200_llama3.1-8b-instruct-fp8_vllm_tp1"
