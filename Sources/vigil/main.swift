print("vigil: not built yet")
