"""The pure decision path: types, pipeline stages, sizing strategies, queueing, feedback,
stabilisation, limits and budget. No I/O, no clock reads."""
