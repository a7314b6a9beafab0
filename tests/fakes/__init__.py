"""Fakes shipped as real code: used by tests and the simulator alike."""
