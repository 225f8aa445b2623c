// CTapsKernels: see include/tapskernels.h. Coefficients (least-squares fits on Chebyshev nodes against 40-digit
// mpmath references, relative error): e^r on [-ln2/2, ln2/2] as 1 + r + r²·Q(r), 1.0e-8; erf(x)/x - 1 in x² on
// |x| <= 1, 3.4e-11; a·erfc(a)·e^{a²} on 1 <= a <= 4 in w = (1/a² - 0.53125)/0.46875 ∈ [-1, 1], 4.4e-8.
#include "tapskernels.h"
#include <stdlib.h>
#include <string.h>

// Eight-float vectors cross no call boundary outside this file (the helpers are static and always inlined), so the
// baseline compilation's warning that their by-value ABI differs without AVX does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32), aligned(4)));

#define INLINE static inline __attribute__((always_inline))
#define SPLAT(c) ((v8f){(c), (c), (c), (c), (c), (c), (c), (c)})
#define SPLATI(c) ((v8i){(c), (c), (c), (c), (c), (c), (c), (c)})

INLINE v8f load8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
INLINE void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
/// m ? a : b per lane (m all ones or all zeros).
INLINE v8f sel(v8i m, v8f a, v8f b) { return (v8f)(((v8i)a & m) | ((v8i)b & ~m)); }

/// c[0]·x^(n-1) + c[1]·x^(n-2) + ... + c[n-1] by Horner's rule.
INLINE v8f horner(v8f x, const float *c, int n) {
    v8f p = SPLAT(c[0]);
    for (int i = 1; i < n; i++) p = p * x + SPLAT(c[i]);
    return p;
}

/// e^r = 1 + r + r²·Q(r) on [-ln2/2, ln2/2].
static const float EXP_Q[] = {1.393364352e-03f, 8.363175565e-03f, 4.166646498e-02f, 1.666657700e-01f, 5.000000013e-01f};
/// erf(x)/x - 1 = Q(x²) on |x| <= 1.
static const float ERF_SMALL[] = {-9.6349914722e-06f, 1.1254640851e-04f, -8.4825077530e-04f, 5.2209232170e-03f,
                                  -2.6865392125e-02f, 1.1283781839e-01f, -3.7612638426e-01f, 1.2837916710e-01f};
/// a·erfc(a)·e^{a²} = H(w), w = (1/a² - 0.53125)/0.46875, on 1 <= a <= 4.
static const float ERF_LARGE[] = {-6.0421645681e-05f, 8.2601416729e-05f, 3.6990409254e-05f, 4.5177540280e-06f,
                                  -2.3503522563e-04f, 4.0251238342e-04f, -7.4340581014e-04f, 1.7697630681e-03f,
                                  -4.5907903564e-03f, 1.3770614744e-02f, -5.4614465182e-02f, 4.7176067602e-01f};

INLINE v8f vexp(v8f x) {
    const v8f lo = SPLAT(-87.33654f), hi = SPLAT(88.72283f);
    v8f xc = sel(x < lo, lo, x);
    xc = sel(xc > hi, hi, xc);
    // n = round(x·log2 e): adding 1.5·2^23 leaves n (nearest even) in the low mantissa bits.
    const v8f magic = SPLAT(12582912.0f);
    v8f shifted = xc * SPLAT(1.442695041f) + magic;
    v8f n = shifted - magic;
    v8i ni = (v8i)shifted - SPLATI(0x4B400000);
    v8f r = (xc - n * SPLAT(0.693145752f)) - n * SPLAT(1.42860677e-6f);   // ln2 in two parts (Cody-Waite)
    v8f q = horner(r, EXP_Q, sizeof EXP_Q / sizeof *EXP_Q);
    v8f p = SPLAT(1.0f) + r + (r * r) * q;
    // 2^n for n in -126...128; n = 128 (x near 88.72) as 2^127 · 2.
    v8i big = n > SPLAT(127.0f);
    v8i e = ((ni - (big & SPLATI(1))) + SPLATI(127)) << 23;
    v8f y = p * (v8f)e;
    y = sel(big, y * SPLAT(2.0f), y);
    y = sel(x < lo, SPLAT(0.0f), y);
    y = sel(x > hi, SPLAT(__builtin_inff()), y);
    return sel(x != x, x, y);   // NaN stays NaN
}

INLINE v8f verf(v8f x) {
    v8f a = sel(x < SPLAT(0.0f), -x, x);
    // |x| <= 1: erf(x) = x + x·Q(x²) (the small correction added last, so its rounding error is scaled down).
    v8f t = x * x;
    v8f q = horner(t, ERF_SMALL, sizeof ERF_SMALL / sizeof *ERF_SMALL);
    v8f small = x + x * q;
    // 1 < a: erfc(a) = e^{-a²}·H(w)·(a·u), u = 1/a² (so 1/a = a·u), a clamped to [1, 4].
    v8f al = sel(a < SPLAT(1.0f), SPLAT(1.0f), a);
    al = sel(al > SPLAT(4.0f), SPLAT(4.0f), al);
    v8f a2 = al * al;
    v8f u = SPLAT(1.0f) / a2;
    v8f w = (u - SPLAT(0.53125f)) * SPLAT(1.0f / 0.46875f);
    v8f h = horner(w, ERF_LARGE, sizeof ERF_LARGE / sizeof *ERF_LARGE);
    v8f large = SPLAT(1.0f) - vexp(-a2) * h * (al * u);
    large = sel(a > SPLAT(3.92f), SPLAT(1.0f), large);
    large = sel(x < SPLAT(0.0f), -large, large);
    v8f y = sel(a > SPLAT(1.0f), large, small);
    return sel(x != x, x, y);
}

// Loops: full vectors, then the tail through the same code on a zero-padded vector.
#define TAIL_LOAD(dst, src, i, n) do { float b_[8] = {0}; memcpy(b_, (src) + (i), (size_t)((n) - (i)) * sizeof(float)); dst = load8(b_); } while (0)
#define TAIL_STORE(dst, v, i, n) do { float b_[8]; store8(b_, v); memcpy((dst) + (i), b_, (size_t)((n) - (i)) * sizeof(float)); } while (0)

/// y[i] = f(x[i]) for i < n (f inlined: a constant function pointer into an always-inline body).
INLINE void map_body(const float *x, float *y, long n, v8f (*f)(v8f)) {
    long i = 0;
    for (; i + 8 <= n; i += 8) store8(y + i, f(load8(x + i)));
    if (i < n) { v8f v; TAIL_LOAD(v, x, i, n); TAIL_STORE(y, f(v), i, n); }
}

INLINE void exp_body(const float *x, float *y, long n) { map_body(x, y, n, vexp); }
INLINE void erf_body(const float *x, float *y, long n) { map_body(x, y, n, verf); }

INLINE void gelu_forward8(v8f v, v8f *e, v8f *y) {
    *e = verf(v * SPLAT(0.70710678118654752f));
    *y = SPLAT(0.5f) * v * (SPLAT(1.0f) + *e);
}

INLINE void gelu_forward_body(const float *x, float *e, float *y, long n) {
    long i = 0;
    v8f ev, yv;
    for (; i + 8 <= n; i += 8) {
        gelu_forward8(load8(x + i), &ev, &yv);
        if (e) store8(e + i, ev);
        store8(y + i, yv);
    }
    if (i < n) {
        v8f v; TAIL_LOAD(v, x, i, n);
        gelu_forward8(v, &ev, &yv);
        if (e) TAIL_STORE(e, ev, i, n);
        TAIL_STORE(y, yv, i, n);
    }
}

INLINE v8f gelu_backward8(v8f g, v8f v, v8f e) {
    v8f pdf = SPLAT(0.3989422804014327f) * vexp(SPLAT(-0.5f) * v * v);
    return g * (SPLAT(0.5f) * (SPLAT(1.0f) + e) + v * pdf);
}

INLINE void gelu_backward_body(const float *dy, const float *x, const float *e, float *dx, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) store8(dx + i, gelu_backward8(load8(dy + i), load8(x + i), load8(e + i)));
    if (i < n) {
        v8f g, v, ev;
        TAIL_LOAD(g, dy, i, n); TAIL_LOAD(v, x, i, n); TAIL_LOAD(ev, e, i, n);
        TAIL_STORE(dx, gelu_backward8(g, v, ev), i, n);
    }
}

INLINE void softmax_rows_body(float *p, long rows, long columns) {
    for (long r = 0; r < rows; r++) {
        float *row = p + r * columns;
        float m = -__builtin_inff();
        for (long c = 0; c < columns; c++) m = row[c] > m ? row[c] : m;
        v8f mv = SPLAT(m), acc = SPLAT(0.0f);
        long i = 0;
        for (; i + 8 <= columns; i += 8) {
            v8f ev = vexp(load8(row + i) - mv);
            store8(row + i, ev);
            acc += ev;
        }
        float s = 0;
        for (int l = 0; l < 8; l++) s += acc[l];
        if (i < columns) {
            v8f v; TAIL_LOAD(v, row, i, columns);
            v8f ev = vexp(v - mv);
            TAIL_STORE(row, ev, i, columns);
            for (long c = i; c < columns; c++) s += row[c];
        }
        float inv = 1.0f / s;
        for (long c = 0; c < columns; c++) row[c] *= inv;
    }
}

// One body, two compilations on x86 (AVX2+FMA and the baseline), chosen at run time; one elsewhere.
#if defined(__x86_64__) || defined(__i386__)
#define TAPS_KERNELS_X86 1
#else
#define TAPS_KERNELS_X86 0
#endif

// 0: not chosen yet; 1 baseline; 2 AVX2+FMA. Relaxed atomics: every thread that races to choose stores the same value.
static int variant = 0;

static int cpu_has_avx2_fma(void) {
#if TAPS_KERNELS_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int choose(void) {
    const char *env = getenv("TAPS_KERNELS");
    if (env && strcmp(env, "baseline") == 0) return 1;
    return cpu_has_avx2_fma() ? 2 : 1;
}

int taps_kernels_variant(void) {
    int v = __atomic_load_n(&variant, __ATOMIC_RELAXED);
    if (v == 0) {
        v = choose();
        __atomic_store_n(&variant, v, __ATOMIC_RELAXED);
    }
    return v;
}

#if TAPS_KERNELS_X86
#define KERNEL(name, params, args) \
    __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_body args; } \
    static void name##_baseline params { name##_body args; } \
    void taps_##name##_f32 params { if (taps_kernels_variant() == 2) name##_avx2 args; else name##_baseline args; }
#else
#define KERNEL(name, params, args) \
    static void name##_baseline params { name##_body args; } \
    static void name##_avx2 params { name##_body args; } \
    void taps_##name##_f32 params { name##_baseline args; }
#endif

KERNEL(exp, (const float *x, float *y, long n), (x, y, n))
KERNEL(erf, (const float *x, float *y, long n), (x, y, n))

void taps_exp_f32_variant(int v, const float *x, float *y, long n) {
    if (v == 2 && cpu_has_avx2_fma()) exp_avx2(x, y, n); else exp_baseline(x, y, n);
}

void taps_erf_f32_variant(int v, const float *x, float *y, long n) {
    if (v == 2 && cpu_has_avx2_fma()) erf_avx2(x, y, n); else erf_baseline(x, y, n);
}

KERNEL(gelu_forward, (const float *x, float *e, float *y, long n), (x, e, y, n))
KERNEL(gelu_backward, (const float *dy, const float *x, const float *e, float *dx, long n), (dy, x, e, dx, n))
KERNEL(softmax_rows, (float *p, long rows, long columns), (p, rows, columns))
