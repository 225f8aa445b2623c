#pragma once
int taps_term_guard_placeholder(void);
