"""The emulated graph: a simulated prefill/decode cluster replaying a trace in (compressed)
wall-clock time, serving Dynamo-named frontend metrics and obeying the virtual connector."""
