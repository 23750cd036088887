print("perf: not built yet")
