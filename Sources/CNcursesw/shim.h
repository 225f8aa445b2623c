// CNcursesw: ncursesw for Swift. SwiftPM drops pkg-config's -D flags, so the wide-character API is enabled
// here, and the curses globals (not concurrency-safe in Swift 6) are read through inline getters.
#pragma once
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

static inline WINDOW *taps_stdscr(void) { return stdscr; }
static inline int taps_lines(void) { return LINES; }
static inline int taps_cols(void) { return COLS; }
static inline int taps_colors(void) { return COLORS; }
static inline int taps_color_pairs(void) { return COLOR_PAIRS; }
static inline int taps_key_resize(void) { return KEY_RESIZE; }

/// Draws one character cell (a single code point) with attributes and colour pair at (y, x).
static inline int taps_put_cell(int y, int x, wchar_t ch, attr_t attrs, short pair) {
    wchar_t text[2] = { ch, 0 };
    cchar_t cell;
    if (setcchar(&cell, text, attrs, pair, NULL) != OK) return ERR;
    return mvadd_wch(y, x, &cell);
}

#include <langinfo.h>
#include <stdio.h>

/// The character set of the current locale, e.g. "UTF-8" or "ANSI_X3.4-1968".
static inline const char *taps_codeset(void) { return nl_langinfo(CODESET); }

/// `newterm(NULL, stdout, stdin)`: NULL (instead of exiting like initscr) when the terminal type is unknown.
static inline SCREEN *taps_newterm(void) { return newterm(NULL, stdout, stdin); }

static inline attr_t taps_attr_normal(void) { return A_NORMAL; }
static inline attr_t taps_attr_bold(void) { return A_BOLD; }
static inline attr_t taps_attr_dim(void) { return A_DIM; }
static inline attr_t taps_attr_reverse(void) { return A_REVERSE; }
static inline attr_t taps_attr_underline(void) { return A_UNDERLINE; }
static inline int taps_key_f(int n) { return KEY_F(n); }
static inline int taps_key_up(void) { return KEY_UP; }
static inline int taps_key_down(void) { return KEY_DOWN; }
static inline int taps_key_page_up(void) { return KEY_PPAGE; }
static inline int taps_key_page_down(void) { return KEY_NPAGE; }
static inline int taps_key_code_yes(void) { return KEY_CODE_YES; }
static inline int taps_key_left(void) { return KEY_LEFT; }
static inline int taps_key_right(void) { return KEY_RIGHT; }
static inline int taps_key_enter(void) { return KEY_ENTER; }
static inline int taps_key_backspace(void) { return KEY_BACKSPACE; }
static inline int taps_key_mouse(void) { return KEY_MOUSE; }
/* Report left clicks and double clicks (the heatmap's layer cursor); other buttons stay with the terminal. */
static inline void taps_enable_mouse(void) {
    mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON1_PRESSED, NULL);
    mouseinterval(200);
}
/* The pending mouse event: 1 and its cell and kind (2 double click, 1 click/press), or 0 when there is none. */
static inline int taps_get_mouse(int *x, int *y, int *kind) {
    MEVENT e;
    if (getmouse(&e) != OK) return 0;
    *x = e.x; *y = e.y;
    *kind = (e.bstate & BUTTON1_DOUBLE_CLICKED) ? 2 : ((e.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)) ? 1 : 0);
    return 1;
}
