"""Request workloads: trace readers (Azure, Mooncake, ServeGen) and synthetic generators."""
