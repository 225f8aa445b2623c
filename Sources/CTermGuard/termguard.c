int taps_term_guard_placeholder(void) { return 0; }
