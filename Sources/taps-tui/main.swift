print("taps-tui")
