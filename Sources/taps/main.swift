print("taps")
