"""Performance profiles (reading, validating) and the interpolated perf model built on them."""
