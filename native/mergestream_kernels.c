/*
 * mergestream native kernels (see mergestream_kernels.h): the same fused kernels as the Java ones, written
 * for gcc -O3 -march=native -ffp-contract=off to auto-vectorise.
 *
 * Structure. Work is split at multiples of 2^32 (so that hi32(i) of the DARE hash is one constant) and then
 * into blocks of BLOCK elements. Two paths:
 *  - the hot path (fused_dare): base, models and output of one dtype (bf16 or f32), 2..4 models, every
 *    model a rescaled DARE draw, consensus NONE or WEIGHTED_SUM (dare_linear, dare_ties): one loop per
 *    block, everything in registers, one instantiation per (dtype, models, consensus, normalize).
 *  - the general path: per block, one simple loop per model (specialised on its dtype, sparsifier kind,
 *    rescale, consensus and normalize) accumulating into L1-resident block arrays, then one loop that
 *    elects, normalises, applies lambda and encodes. f16 goes through F16C conversions into a block buffer.
 * Both compute, per element, exactly the op order of TaskArithmeticOp's javadoc. With consensus they keep
 * the sums of the positive and of the negative t_j separately and pick one at the end (as VectorKernel
 * does): that adds +0 terms the scalar loop skips, which changes no bit (a sum started at +0 of terms of
 * one sign is never -0 and x + 0 = x otherwise).
 */
#include "mergestream_kernels.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#if defined(__FAST_MATH__)
#error "build without -ffast-math (and with -ffp-contract=off): the kernels must be bit-identical to Java's"
#endif

#define AI static inline __attribute__((always_inline))
#define BLOCK 512

typedef float f32u __attribute__((aligned(1), may_alias));
typedef uint16_t u16u __attribute__((aligned(1), may_alias));
typedef uint32_t u32u __attribute__((aligned(1), may_alias));

AI float bits_f32(uint32_t u) {
    union { uint32_t u; float f; } c = {.u = u};
    return c.f;
}

AI uint32_t f32_bits(float f) {
    union { float f; uint32_t u; } c = {.f = f};
    return c.u;
}

AI uint32_t lowbias32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x21F0AAADu;
    x ^= x >> 15;
    x *= 0x735A2D97u;
    x ^= x >> 15;
    return x;
}

uint32_t ms_dare_u(int64_t i, uint32_t k0, uint32_t k1) {
    uint64_t v = (uint64_t) i;
    return lowbias32(lowbias32((uint32_t) v ^ k0) ^ k1 ^ (uint32_t) (v >> 32));
}

int ms_abi_version(void) {
    return MS_ABI_VERSION;
}

/* ---- codecs ---------------------------------------------------------------------------------------- */

/* Element k of an f32 or bf16 tensor (f16 is decoded into a buffer first). */
AI float load_in(const void *p, int64_t k, const int dt) {
    if (dt == MS_F32) return ((const f32u *) p)[k];
    return bits_f32((uint32_t) ((const u16u *) p)[k] << 16);
}

AI uint32_t encode_f32(float v) {
    return v != v ? 0x7FC00000u : f32_bits(v);
}

/* Round to nearest even; any NaN becomes 0x7FC0 (as BFloat16.fromFloat). */
AI uint16_t encode_bf16(float v) {
    uint32_t b = f32_bits(v);
    uint16_t r = (uint16_t) ((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
    return v != v ? (uint16_t) 0x7FC0 : r;
}

/* Stores element k to an f32 or bf16 tensor. */
AI void store_out(void *p, int64_t k, float v, const int dt) {
    if (dt == MS_F32) ((u32u *) p)[k] = encode_f32(v);
    else ((u16u *) p)[k] = encode_bf16(v);
}

#if !defined(__F16C__)
/* Exact IEEE binary16 <-> binary32 without F16C. */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t) (h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (man << 13) | (man ? 0x400000u : 0));
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in f32 */
        float f = (float) man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static uint16_t f32_to_f16(float v) {
    if (v != v) return 0x7E00;
    uint32_t b = f32_bits(v), sign = (b >> 16) & 0x8000u, a = b & 0x7FFFFFFFu;
    if (a >= 0x477FF000u) return (uint16_t) (sign | 0x7C00u); /* rounds to >= 2^16: inf */
    if (a < 0x38800000u) {                                       /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) return (uint16_t) sign;            /* below 2^-25: rounds to 0 */
        uint32_t e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u, shift = 126 - e; /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t) (sign | q);
    }
    uint32_t r = a + 0xFFFu + ((a >> 13) & 1u) - 0x38000000u; /* rebias 127 -> 15 and round */
    return (uint16_t) (sign | (r >> 13));
}
#endif

/* n f16 elements to f32 (exact; a NaN stays NaN, quieted, as Float.float16ToFloat). */
static void decode_f16(const void *restrict src, float *restrict dst, int n) {
    const u16u *s = (const u16u *) src;
    int k = 0;
#if defined(__F16C__)
    for (; k + 8 <= n; k += 8) {
        _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (s + k))));
    }
    for (; k < n; k++) dst[k] = _cvtsh_ss(s[k]);
#else
    for (; k < n; k++) dst[k] = f16_to_f32(s[k]);
#endif
}

/* n f32 values to f16, round to nearest even, any NaN to 0x7E00. */
static void encode_f16(const float *restrict src, void *restrict dst, int n) {
    u16u *d = (u16u *) dst;
    int k = 0;
#if defined(__F16C__)
    const __m128i magnitude = _mm_set1_epi16(0x7FFF), inf = _mm_set1_epi16(0x7C00), nan = _mm_set1_epi16(0x7E00);
    for (; k + 8 <= n; k += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + k), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m128i isnan = _mm_cmpgt_epi16(_mm_and_si128(h, magnitude), inf);
        _mm_storeu_si128((__m128i *) (d + k), _mm_blendv_epi8(h, nan, isnan));
    }
    for (; k < n; k++) {
        float v = src[k];
        d[k] = v != v ? (uint16_t) 0x7E00 : (uint16_t) _cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
#else
    for (; k < n; k++) d[k] = f32_to_f16(src[k]);
#endif
}

AI int64_t elem_size(int dt) {
    return dt == MS_F32 ? 4 : 2;
}

AI int valid_dtype(int dt) {
    return dt == MS_F32 || dt == MS_F16 || dt == MS_BF16;
}

AI const void *advance(const void *p, int dt, int64_t k) {
    return (const char *) p + k * elem_size(dt);
}

/* Decodes n elements of any dtype into dst. */
static void decode_block(const void *restrict src, int dt, float *restrict dst, int n) {
    if (dt == MS_F16) {
        decode_f16(src, dst, n);
    } else if (dt == MS_BF16) {
        for (int k = 0; k < n; k++) dst[k] = load_in(src, k, MS_BF16);
    } else {
        for (int k = 0; k < n; k++) dst[k] = load_in(src, k, MS_F32);
    }
}

/* Encodes n f32 values to any dtype. */
static void encode_block(const float *restrict src, void *restrict dst, int dt, int n) {
    if (dt == MS_F16) {
        encode_f16(src, dst, n);
    } else if (dt == MS_BF16) {
        for (int k = 0; k < n; k++) store_out(dst, k, src[k], MS_BF16);
    } else {
        for (int k = 0; k < n; k++) store_out(dst, k, src[k], MS_F32);
    }
}

/* ---- task arithmetic: general path ------------------------------------------------------------------ */

typedef struct {
    float b[BLOCK];     /* decoded base */
    float x[BLOCK];     /* decoded f16 model, or the f32 result before f16 encoding */
    float mixed[BLOCK]; /* NONE: the running sum of t_j */
    float vote[BLOCK], pos[BLOCK], neg[BLOCK], pw[BLOCK], nw[BLOCK];
} scratch;

/*
 * One model over one block: d, s, t and the accumulation. DT is MS_F32 or MS_BF16 (f16 comes decoded
 * in an f32 buffer). lo0 = lo32 of the block's first index; k1h = k1 ^ hi32; tie_lanes = how many of the
 * block's first elements are below the tie cutoff.
 */
AI void model_pass(const int DT, const int KIND, const int RESCALE, const int CONS, const int NORM, const int FIRST,
                   const void *restrict src, const float *restrict b, int n, float w, float density,
                   uint32_t threshold, uint32_t k0, uint32_t k1h, int32_t mbits, int tie_lanes, uint32_t lo0,
                   float *restrict mixed, float *restrict vote, float *restrict pos, float *restrict neg,
                   float *restrict pw, float *restrict nw) {
    for (int k = 0; k < n; k++) {
        float d = load_in(src, k, DT) - b[k];
        float q = RESCALE ? d / density : d;
        float s;
        if (KIND == MS_RANDOM) {
            uint32_t u = lowbias32(lowbias32((lo0 + (uint32_t) k) ^ k0) ^ k1h);
            s = u < threshold ? q : 0.0f;
        } else if (KIND == MS_MAGNITUDE) {
            int32_t a = (int32_t) (f32_bits(d) & 0x7FFFFFFFu);
            int keep = (a > mbits) | ((a == mbits) & (k < tie_lanes));
            s = keep ? q : 0.0f;
        } else {
            s = q;
        }
        float t = w * s;
        if (CONS == MS_NONE) {
            mixed[k] = FIRST ? t : mixed[k] + t;
        } else {
            float term = CONS == MS_WEIGHTED_SUM ? t
                    : CONS == MS_SUM ? s
                    : (t > 0.0f ? 1.0f : (t < 0.0f ? -1.0f : 0.0f));
            vote[k] = vote[k] + term;
            pos[k] = pos[k] + (t > 0.0f ? t : 0.0f);
            neg[k] = neg[k] + (t < 0.0f ? t : 0.0f);
            if (NORM) {
                pw[k] = pw[k] + (t > 0.0f ? w : 0.0f);
                nw[k] = nw[k] + (t < 0.0f ? w : 0.0f);
            }
        }
    }
}

#define PASS_ARGS src, sc->b, n, m->weight, m->density, m->threshold, m->k0, m->k1 ^ hi, m->magnitude_bits, \
        tie_lanes, lo0, sc->mixed, sc->vote, sc->pos, sc->neg, sc->pw, sc->nw

AI void pass_first(const int DT, const int K, const int R, const int C, const int N, int first, const void *src,
                   scratch *sc, int n, const ms_model *m, uint32_t hi, int tie_lanes, uint32_t lo0) {
    if (C == MS_NONE && first) model_pass(DT, K, R, C, N, 1, PASS_ARGS);
    else model_pass(DT, K, R, C, N, 0, PASS_ARGS);
}

AI void pass_norm(const int DT, const int K, const int R, const int C, int norm, int first, const void *src,
                  scratch *sc, int n, const ms_model *m, uint32_t hi, int tie_lanes, uint32_t lo0) {
    if (C != MS_NONE && norm) pass_first(DT, K, R, C, 1, first, src, sc, n, m, hi, tie_lanes, lo0);
    else pass_first(DT, K, R, C, 0, first, src, sc, n, m, hi, tie_lanes, lo0);
}

AI void pass_cons(const int DT, const int K, const int R, int cons, int norm, int first, const void *src,
                  scratch *sc, int n, const ms_model *m, uint32_t hi, int tie_lanes, uint32_t lo0) {
    switch (cons) {
        case MS_NONE: pass_norm(DT, K, R, MS_NONE, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
        case MS_WEIGHTED_SUM: pass_norm(DT, K, R, MS_WEIGHTED_SUM, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
        case MS_SUM: pass_norm(DT, K, R, MS_SUM, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
        default: pass_norm(DT, K, R, MS_COUNT, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
    }
}

AI void pass_rescale(const int DT, const int K, int rescale, int cons, int norm, int first, const void *src,
                     scratch *sc, int n, const ms_model *m, uint32_t hi, int tie_lanes, uint32_t lo0) {
    if (rescale) pass_cons(DT, K, 1, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0);
    else pass_cons(DT, K, 0, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0);
}

AI void pass_kind(const int DT, int kind, int rescale, int cons, int norm, int first, const void *src,
                  scratch *sc, int n, const ms_model *m, uint32_t hi, int tie_lanes, uint32_t lo0) {
    switch (kind) {
        case MS_RANDOM: pass_rescale(DT, MS_RANDOM, rescale, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
        case MS_MAGNITUDE: pass_rescale(DT, MS_MAGNITUDE, rescale, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
        default: pass_rescale(DT, MS_KEEP_ALL, rescale, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0); break;
    }
}

/* One model over one block of the general path, dispatched to its specialised loop. */
static void model_block(const ms_model *m, int first, int cons, int norm, scratch *sc, int64_t k0, int n,
                        int64_t index0, uint32_t hi) {
    const void *src = advance(m->data, m->dtype, k0);
    int dt = m->dtype;
    if (dt == MS_F16) {
        decode_f16(src, sc->x, n);
        src = sc->x;
        dt = MS_F32;
    }
    int64_t tie = m->tie_cutoff - index0;
    int tie_lanes = tie <= 0 ? 0 : tie >= n ? n : (int) tie;
    uint32_t lo0 = (uint32_t) index0;
    int rescale = m->rescale != 0;
    if (dt == MS_F32) pass_kind(MS_F32, m->kind, rescale, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0);
    else pass_kind(MS_BF16, m->kind, rescale, cons, norm, first, src, sc, n, m, hi, tie_lanes, lo0);
}

/* mixed -> (normalised) -> b + lambda * mixed, stored to OUT (f32/bf16), or into sc->x for f16. */
AI void finish_block(const int OUT, const int CONS, const int NORM, const scratch *restrict sc, float lambda,
                     float cdiv, void *restrict out, int n) {
    float *restrict res = OUT == MS_F16 ? (float *) sc->x : 0;
    for (int k = 0; k < n; k++) {
        float mixed;
        if (!CONS) {
            mixed = sc->mixed[k];
            if (NORM) mixed = mixed / cdiv;
        } else {
            int elected = sc->vote[k] >= 0.0f;
            mixed = elected ? sc->pos[k] : sc->neg[k];
            if (NORM) {
                float divisor = elected ? sc->pw[k] : sc->nw[k];
                divisor = fabsf(divisor) < 1e-8f ? 1.0f : divisor;
                mixed = mixed / divisor;
            }
        }
        float r = sc->b[k] + lambda * mixed;
        if (OUT == MS_F16) res[k] = r;
        else store_out(out, k, r, OUT);
    }
}

AI void finish_norm(const int OUT, const int CONS, int norm, const scratch *sc, float lambda, float cdiv, void *out, int n) {
    if (norm) finish_block(OUT, CONS, 1, sc, lambda, cdiv, out, n);
    else finish_block(OUT, CONS, 0, sc, lambda, cdiv, out, n);
}

static void finish_dispatch(int out_dt, int cons, int norm, scratch *sc, float lambda, float cdiv, void *out, int n) {
    int c = cons != MS_NONE;
    switch (out_dt) {
        case MS_F32:
            if (c) finish_norm(MS_F32, 1, norm, sc, lambda, cdiv, out, n);
            else finish_norm(MS_F32, 0, norm, sc, lambda, cdiv, out, n);
            break;
        case MS_BF16:
            if (c) finish_norm(MS_BF16, 1, norm, sc, lambda, cdiv, out, n);
            else finish_norm(MS_BF16, 0, norm, sc, lambda, cdiv, out, n);
            break;
        default:
            if (c) finish_norm(MS_F16, 1, norm, sc, lambda, cdiv, out, n);
            else finish_norm(MS_F16, 0, norm, sc, lambda, cdiv, out, n);
            encode_f16(sc->x, out, n);
            break;
    }
}

/* [index0, index0 + count) with hi32 constant, general path; k0 = offset from the pointers' element. */
static void general_range(const ms_task_op *op, const ms_model *models, const void *base, int base_dt, void *out,
                          int out_dt, int64_t k0, int64_t count, int64_t index0, uint32_t hi) {
    scratch sc;
    int cons = op->consensus, norm = op->normalize != 0;
    for (int64_t done = 0; done < count; done += BLOCK) {
        int n = count - done < BLOCK ? (int) (count - done) : BLOCK;
        int64_t k = k0 + done;
        decode_block(advance(base, base_dt, k), base_dt, sc.b, n);
        if (cons != MS_NONE) {
            for (int e = 0; e < n; e++) sc.vote[e] = sc.pos[e] = sc.neg[e] = sc.pw[e] = sc.nw[e] = 0.0f;
        }
        for (int j = 0; j < op->models; j++) {
            model_block(&models[j], j == 0, cons, norm, &sc, k, n, index0 + done, hi);
        }
        finish_dispatch(out_dt, cons, norm, &sc, op->lambda, op->constant_divisor,
                        (void *) advance(out, out_dt, k), n);
    }
}

/* ---- task arithmetic: the hot path ------------------------------------------------------------------ */

/*
 * D-typed base, M models and output, every model a rescaled DARE draw, CONS NONE or WEIGHTED_SUM: one
 * loop, all in registers. Pointers at the block's first element.
 */
AI void fused_dare(const int D, const int M, const int CONS, const int NORM, const void *restrict base,
                   const void *restrict x0, const void *restrict x1, const void *restrict x2,
                   const void *restrict x3, void *restrict out, const ms_model *models, int n, uint32_t lo0,
                   uint32_t hi, float lambda, float cdiv) {
    float w[4], dens[4];
    uint32_t thr[4], key0[4], key1[4];
    for (int j = 0; j < M; j++) {
        w[j] = models[j].weight;
        dens[j] = models[j].density;
        thr[j] = models[j].threshold;
        key0[j] = models[j].k0;
        key1[j] = models[j].k1 ^ hi;
    }
    const void *x[4] = {x0, x1, x2, x3};
    for (int k = 0; k < n; k++) {
        float b = load_in(base, k, D);
        uint32_t lo = lo0 + (uint32_t) k;
        float mixed = 0.0f, vote = 0.0f, pos = 0.0f, neg = 0.0f, pw = 0.0f, nw = 0.0f;
#pragma GCC unroll 4
        for (int j = 0; j < M; j++) {
            float d = load_in(x[j], k, D) - b;
            float q = d / dens[j];
            uint32_t u = lowbias32(lowbias32(lo ^ key0[j]) ^ key1[j]);
            float s = u < thr[j] ? q : 0.0f;
            float t = w[j] * s;
            if (CONS == MS_NONE) {
                mixed = j == 0 ? t : mixed + t;
            } else {
                vote = vote + t;
                pos = pos + (t > 0.0f ? t : 0.0f);
                neg = neg + (t < 0.0f ? t : 0.0f);
                if (NORM) {
                    pw = pw + (t > 0.0f ? w[j] : 0.0f);
                    nw = nw + (t < 0.0f ? w[j] : 0.0f);
                }
            }
        }
        if (CONS == MS_NONE) {
            if (NORM) mixed = mixed / cdiv;
        } else {
            int elected = vote >= 0.0f;
            mixed = elected ? pos : neg;
            if (NORM) {
                float divisor = elected ? pw : nw;
                divisor = fabsf(divisor) < 1e-8f ? 1.0f : divisor;
                mixed = mixed / divisor;
            }
        }
        store_out(out, k, b + lambda * mixed, D);
    }
}

AI void fused_norm(const int D, const int M, const int C, int norm, const void *base, const void *const *x,
                   void *out, const ms_model *models, int n, uint32_t lo0, uint32_t hi, float lambda, float cdiv) {
    if (norm) fused_dare(D, M, C, 1, base, x[0], x[1], x[2], x[3], out, models, n, lo0, hi, lambda, cdiv);
    else fused_dare(D, M, C, 0, base, x[0], x[1], x[2], x[3], out, models, n, lo0, hi, lambda, cdiv);
}

AI void fused_cons(const int D, const int M, int cons, int norm, const void *base, const void *const *x,
                   void *out, const ms_model *models, int n, uint32_t lo0, uint32_t hi, float lambda, float cdiv) {
    if (cons == MS_NONE) fused_norm(D, M, MS_NONE, norm, base, x, out, models, n, lo0, hi, lambda, cdiv);
    else fused_norm(D, M, MS_WEIGHTED_SUM, norm, base, x, out, models, n, lo0, hi, lambda, cdiv);
}

AI void fused_models(const int D, int m, int cons, int norm, const void *base, const void *const *x,
                     void *out, const ms_model *models, int n, uint32_t lo0, uint32_t hi, float lambda, float cdiv) {
    switch (m) {
        case 2: fused_cons(D, 2, cons, norm, base, x, out, models, n, lo0, hi, lambda, cdiv); break;
        case 3: fused_cons(D, 3, cons, norm, base, x, out, models, n, lo0, hi, lambda, cdiv); break;
        default: fused_cons(D, 4, cons, norm, base, x, out, models, n, lo0, hi, lambda, cdiv); break;
    }
}

static void fused_range(const ms_task_op *op, const ms_model *models, const void *base, int dt, void *out,
                        int64_t k0, int64_t count, int64_t index0, uint32_t hi) {
    const int m = op->models;
    for (int64_t done = 0; done < count; done += BLOCK) {
        int n = count - done < BLOCK ? (int) (count - done) : BLOCK;
        int64_t k = k0 + done;
        const void *x[4] = {0, 0, 0, 0};
        for (int j = 0; j < m; j++) x[j] = advance(models[j].data, dt, k);
        const void *b = advance(base, dt, k);
        void *o = (void *) advance(out, dt, k);
        uint32_t lo0 = (uint32_t) (index0 + done);
        if (dt == MS_BF16) {
            fused_models(MS_BF16, m, op->consensus, op->normalize, b, x, o, models, n, lo0, hi, op->lambda,
                         op->constant_divisor);
        } else {
            fused_models(MS_F32, m, op->consensus, op->normalize, b, x, o, models, n, lo0, hi, op->lambda,
                         op->constant_divisor);
        }
    }
}

static int hot_case(const ms_task_op *op, const ms_model *models, int base_dt, int out_dt) {
    if (op->models < 2 || op->models > 4) return 0;
    if (op->consensus != MS_NONE && op->consensus != MS_WEIGHTED_SUM) return 0;
    if (base_dt != out_dt || base_dt == MS_F16) return 0;
    for (int j = 0; j < op->models; j++) {
        if (models[j].dtype != base_dt || models[j].kind != MS_RANDOM || !models[j].rescale) return 0;
    }
    return 1;
}

int ms_task_arithmetic(const ms_task_op *op, const ms_model *models, const void *base, int32_t base_dtype,
                       void *out, int32_t out_dtype, int64_t start, int64_t count) {
    if (!op || !models || op->models < 1 || start < 0 || count < 0) return MS_EARG;
    if (!valid_dtype(base_dtype) || !valid_dtype(out_dtype)) return MS_EARG;
    for (int j = 0; j < op->models; j++) {
        if (!valid_dtype(models[j].dtype)) return MS_EARG;
    }
    int hot = hot_case(op, models, base_dtype, out_dtype);
    /* Split where hi32(i) changes, so that the hash sees one constant high word per range. */
    for (int64_t done = 0; done < count;) {
        uint64_t i = (uint64_t) (start + done);
        uint64_t to_boundary = ((i | 0xFFFFFFFFull) - i) + 1;
        int64_t n = (uint64_t) (count - done) < to_boundary ? count - done : (int64_t) to_boundary;
        uint32_t hi = (uint32_t) (i >> 32);
        if (hot) fused_range(op, models, base, base_dtype, out, done, n, (int64_t) i, hi);
        else general_range(op, models, base, base_dtype, out, out_dtype, done, n, (int64_t) i, hi);
        done += n;
    }
    return 0;
}

/* ---- linear ----------------------------------------------------------------------------------------- */

AI void linear_pass(const int DT, const int FIRST, const void *restrict src, float w, float *restrict acc, int n) {
    for (int k = 0; k < n; k++) {
        float v = w * load_in(src, k, DT);
        acc[k] = FIRST ? v : acc[k] + v;
    }
}

int ms_linear(const ms_model *models, int32_t m, int32_t normalize, float divisor, void *out, int32_t out_dtype,
              int64_t count) {
    if (!models || m < 1 || count < 0 || !valid_dtype(out_dtype)) return MS_EARG;
    for (int j = 0; j < m; j++) {
        if (!valid_dtype(models[j].dtype)) return MS_EARG;
    }
    float acc[BLOCK], x[BLOCK];
    for (int64_t done = 0; done < count; done += BLOCK) {
        int n = count - done < BLOCK ? (int) (count - done) : BLOCK;
        for (int j = 0; j < m; j++) {
            const void *src = advance(models[j].data, models[j].dtype, done);
            int dt = models[j].dtype;
            if (dt == MS_F16) {
                decode_f16(src, x, n);
                src = x;
                dt = MS_F32;
            }
            float w = models[j].weight;
            if (dt == MS_F32) {
                if (j == 0) linear_pass(MS_F32, 1, src, w, acc, n);
                else linear_pass(MS_F32, 0, src, w, acc, n);
            } else {
                if (j == 0) linear_pass(MS_BF16, 1, src, w, acc, n);
                else linear_pass(MS_BF16, 0, src, w, acc, n);
            }
        }
        if (normalize) {
            for (int k = 0; k < n; k++) acc[k] = acc[k] / divisor;
        }
        encode_block(acc, (void *) advance(out, out_dtype, done), out_dtype, n);
    }
    return 0;
}

/* ---- convert ---------------------------------------------------------------------------------------- */

AI void convert_loop(const int IN, const int OUT, const void *restrict in, void *restrict out, int64_t n) {
    for (int64_t k = 0; k < n; k++) store_out(out, k, load_in(in, k, IN), OUT);
}

int ms_convert(const void *in, int32_t in_dtype, void *out, int32_t out_dtype, int64_t count) {
    if (count < 0 || !valid_dtype(in_dtype) || !valid_dtype(out_dtype)) return MS_EARG;
    if (in_dtype != MS_F16 && out_dtype != MS_F16) {
        if (in_dtype == MS_F32 && out_dtype == MS_F32) convert_loop(MS_F32, MS_F32, in, out, count);
        else if (in_dtype == MS_F32) convert_loop(MS_F32, MS_BF16, in, out, count);
        else if (out_dtype == MS_F32) convert_loop(MS_BF16, MS_F32, in, out, count);
        else convert_loop(MS_BF16, MS_BF16, in, out, count);
        return 0;
    }
    float buf[BLOCK];
    for (int64_t done = 0; done < count; done += BLOCK) {
        int n = count - done < BLOCK ? (int) (count - done) : BLOCK;
        decode_block(advance(in, in_dtype, done), in_dtype, buf, n);
        encode_block(buf, (void *) advance(out, out_dtype, done), out_dtype, n);
    }
    return 0;
}

/* ---- STREAM ----------------------------------------------------------------------------------------- */

typedef struct {
    float *a, *b, *c;
    int64_t from, to;
    int triad, reps;
    pthread_barrier_t *barrier;
    double *best;
    struct stream_gate *gate;
} stream_job;

/* Workers wait here until every thread has started (go) or one could not be (abort). */
struct stream_gate {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int state; /* 0 waiting, 1 go, -1 abort */
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static void stream_copy_range(float *restrict a, const float *restrict b, int64_t from, int64_t to) {
    for (int64_t i = from; i < to; i++) a[i] = b[i];
}

static void stream_triad_range(float *restrict a, const float *restrict b, const float *restrict c, float s,
                               int64_t from, int64_t to) {
    for (int64_t i = from; i < to; i++) a[i] = b[i] + s * c[i];
}

static void *stream_worker(void *arg) {
    stream_job *job = arg;
    pthread_mutex_lock(&job->gate->lock);
    while (job->gate->state == 0) pthread_cond_wait(&job->gate->changed, &job->gate->lock);
    int go = job->gate->state > 0;
    pthread_mutex_unlock(&job->gate->lock);
    if (!go) return 0;
    /* First touch by the thread that will stream the range. */
    for (int64_t i = job->from; i < job->to; i++) {
        job->a[i] = 0.0f;
        job->b[i] = 1.0f;
        if (job->c) job->c[i] = 2.0f;
    }
    for (int r = 0; r < job->reps; r++) {
        pthread_barrier_wait(job->barrier);
        double t0 = now_seconds();
        if (job->triad) stream_triad_range(job->a, job->b, job->c, 3.0f, job->from, job->to);
        else stream_copy_range(job->a, job->b, job->from, job->to);
        pthread_barrier_wait(job->barrier);
        double t = now_seconds() - t0;
        if (job->best && (r == 0 || t < *job->best)) *job->best = t; /* only thread 0 has best */
    }
    return 0;
}

static double stream_run(int64_t bytes, int threads, int reps, int triad) {
    if (bytes < 64 || threads < 1 || threads > 1024 || reps < 1) return -1;
    int64_t n = bytes / (int64_t) sizeof(float);
    size_t size = ((size_t) n * sizeof(float) + 63) / 64 * 64;
    float *a = aligned_alloc(64, size), *b = aligned_alloc(64, size), *c = triad ? aligned_alloc(64, size) : 0;
    stream_job *jobs = calloc((size_t) threads, sizeof(stream_job));
    pthread_t *ids = calloc((size_t) threads, sizeof(pthread_t));
    double best = -1, result = -1;
    pthread_barrier_t barrier;
    if (!a || !b || (triad && !c) || !jobs || !ids || pthread_barrier_init(&barrier, 0, (unsigned) threads)) {
        goto done;
    }
    struct stream_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int started = 0;
    for (int t = 0; t < threads; t++) {
        /* 16-float (64-byte) aligned ranges */
        int64_t per = (n / threads + 15) / 16 * 16;
        int64_t from = per * t < n ? per * t : n, to = per * (t + 1) < n && t + 1 < threads ? per * (t + 1) : n;
        jobs[t] = (stream_job) {a, b, c, from, to, triad, reps, &barrier, t == 0 ? &best : 0, &gate};
        if (t == 0) continue;
        if (pthread_create(&ids[t], 0, stream_worker, &jobs[t])) break;
        started++;
    }
    pthread_mutex_lock(&gate.lock);
    gate.state = started == threads - 1 ? 1 : -1;
    pthread_cond_broadcast(&gate.changed);
    pthread_mutex_unlock(&gate.lock);
    if (started == threads - 1) {
        stream_worker(&jobs[0]);
        result = best > 0 ? (double) n * sizeof(float) * (triad ? 3 : 2) / best : -1;
    } else {
        result = -2; /* a thread could not be started; the others were told to stop */
    }
    for (int t = 1; t <= started; t++) pthread_join(ids[t], 0);
    pthread_barrier_destroy(&barrier);
done:
    free(a);
    free(b);
    free(c);
    free(jobs);
    free(ids);
    return result;
}

double ms_stream_copy(int64_t bytes, int32_t threads, int32_t reps) {
    return stream_run(bytes, threads, reps, 0);
}

double ms_stream_triad(int64_t bytes, int32_t threads, int32_t reps) {
    return stream_run(bytes, threads, reps, 1);
}
