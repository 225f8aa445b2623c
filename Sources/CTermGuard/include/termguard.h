// CTermGuard: restores the terminal when the dashboard quits, is killed or crashes.
#pragma once

/// Saves the current termios of `fd` (call before curses starts). Returns 0 on success.
int taps_term_guard_save(int fd);

/// Installs async-signal-safe handlers for SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT and SIGFPE: each writes a
/// reset string (SGR reset, show cursor, leave the alternate screen), restores the saved termios, reinstates the
/// previous handler and re-raises, so the process still dies with the same signal (and the Swift backtrace).
void taps_term_guard_install_crash_handlers(void);

/// Installs handlers for SIGINT and SIGTERM that only set a flag (read with taps_term_guard_stop_signal()).
/// The UI loop then takes its graceful quit path. A second signal of the same kind restores the terminal and
/// exits immediately with 128 + signal.
void taps_term_guard_install_stop_handlers(void);

/// The stop signal received (SIGINT or SIGTERM), or 0.
int taps_term_guard_stop_signal(void);

/// Restores the terminal (reset string + saved termios) if a state was saved. Async-signal-safe; idempotent.
void taps_term_guard_restore(void);

/// Forgets the saved state once the UI has closed normally (later signals then write nothing to stdout).
void taps_term_guard_forget(void);

/// Puts back the handlers that were active before the install calls.
void taps_term_guard_uninstall(void);
