// CTermGuard: saved termios + async-signal-safe terminal restore on crash, SIGINT, SIGTERM and SIGHUP.
// Only async-signal-safe calls (write, tcsetattr, sigaction, raise, _exit) are made inside handlers.
#include "termguard.h"

#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_termios;
static volatile sig_atomic_t have_saved = 0;
static int saved_fd = 0;
static volatile sig_atomic_t stop_signal = 0;

static const int crash_signals[] = { SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE };
#define CRASH_COUNT (int)(sizeof crash_signals / sizeof crash_signals[0])
static struct sigaction previous_crash[CRASH_COUNT];
static volatile sig_atomic_t crash_installed = 0;

static struct sigaction previous_int, previous_term, previous_hup;
static volatile sig_atomic_t stop_installed = 0;

// SGR reset, show cursor, leave the alternate screen, keypad-transmit off, then a fresh line.
static const char reset_sequence[] = "\033[0m\033[?25h\033[?1049l\033[?1l\033>\r\n";

int taps_term_guard_save(int fd) {
    if (tcgetattr(fd, &saved_termios) != 0) return -1;
    saved_fd = fd;
    have_saved = 1;
    return 0;
}

void taps_term_guard_restore(void) {
    // Only while a full-screen UI owns the terminal: a headless run's stdout gets no escape codes.
    if (!have_saved) return;
    ssize_t ignored = write(STDOUT_FILENO, reset_sequence, sizeof reset_sequence - 1);
    (void)ignored;
    tcsetattr(saved_fd, TCSANOW, &saved_termios);
}

void taps_term_guard_forget(void) { have_saved = 0; }

static void crash_handler(int sig) {
    taps_term_guard_restore();
    for (int i = 0; i < CRASH_COUNT; i++) {
        if (crash_signals[i] == sig) {
            sigaction(sig, &previous_crash[i], NULL);
            break;
        }
    }
    raise(sig);
}

void taps_term_guard_install_crash_handlers(void) {
    if (crash_installed) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = crash_handler;
    sigemptyset(&action.sa_mask);
    // SA_NODEFER so the re-raise after restoring the previous handler is delivered at once.
    action.sa_flags = SA_NODEFER;
    for (int i = 0; i < CRASH_COUNT; i++) sigaction(crash_signals[i], &action, &previous_crash[i]);
    crash_installed = 1;
}

static void stop_handler(int sig) {
    if (stop_signal == sig) {
        // Second request: the user insists. Restore and leave now.
        taps_term_guard_restore();
        _exit(128 + sig);
    }
    stop_signal = sig;
}

void taps_term_guard_install_stop_handlers(void) {
    if (stop_installed) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stop_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, &previous_int);
    sigaction(SIGTERM, &action, &previous_term);
    sigaction(SIGHUP, &action, &previous_hup);   /* a closed SSH session stops the run like SIGTERM */
    stop_installed = 1;
}

int taps_term_guard_stop_signal(void) { return (int)stop_signal; }

void taps_term_guard_uninstall(void) {
    if (crash_installed) {
        for (int i = 0; i < CRASH_COUNT; i++) sigaction(crash_signals[i], &previous_crash[i], NULL);
        crash_installed = 0;
    }
    if (stop_installed) {
        sigaction(SIGINT, &previous_int, NULL);
        sigaction(SIGHUP, &previous_hup, NULL);
        sigaction(SIGTERM, &previous_term, NULL);
        stop_installed = 0;
    }
}
