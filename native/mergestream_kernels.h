/*
 * mergestream native kernels: a C implementation of the fused kernels of io.mergestream.kernel
 * (MergeKernel), bit-identical to the Java ScalarKernel / VectorKernel, and the speed yardstick for them.
 *
 * Every operation follows the f32 operation order of TaskArithmeticOp's javadoc; the library must be
 * built with -ffp-contract=off and without -ffast-math (native/build.sh does), or it is not bit-identical.
 *
 * Pointers point at the element `start` of each tensor (not at element 0); `start` itself is only used
 * as the flat index for the DARE hash and the magnitude tie cutoff. Tensor bytes are little-endian and
 * may be unaligned. Functions return 0, or a negative MS_E* code for a bad argument.
 */
#ifndef MERGESTREAM_KERNELS_H
#define MERGESTREAM_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dtypes */
#define MS_F32 0
#define MS_F16 1
#define MS_BF16 2

/* sparsifier kinds (as ResolvedTaskArithmetic) */
#define MS_KEEP_ALL 0
#define MS_RANDOM 1
#define MS_MAGNITUDE 2

/* consensus (as the Consensus enum's ordinals) */
#define MS_NONE 0
#define MS_WEIGHTED_SUM 1
#define MS_SUM 2
#define MS_COUNT 3

#define MS_EARG (-1)

#define MS_ABI_VERSION 1

/* One input model (56 bytes; NativeKernel writes it field by field at these offsets). */
typedef struct ms_model {
    const void *data;       /*  0: element `start` of the model's tensor */
    int32_t dtype;          /*  8 */
    int32_t kind;           /* 12: MS_KEEP_ALL / MS_RANDOM / MS_MAGNITUDE */
    float weight;           /* 16 */
    float density;          /* 20: divisor of kept values when rescale */
    int32_t rescale;        /* 24 */
    uint32_t threshold;     /* 28: RANDOM: keep iff u(i) < threshold (unsigned, < 2^32) */
    uint32_t k0;            /* 32 */
    uint32_t k1;            /* 36 */
    int32_t magnitude_bits; /* 40: MAGNITUDE: keep iff a > bits || (a == bits && i < tie_cutoff) */
    int32_t pad;            /* 44 */
    int64_t tie_cutoff;     /* 48 */
} ms_model;

/* The merge-wide part of a task-arithmetic op (24 bytes). */
typedef struct ms_task_op {
    int32_t models;          /*  0 */
    int32_t consensus;       /*  4 */
    int32_t normalize;       /*  8 */
    float lambda;            /* 12 */
    float constant_divisor;  /* 16: ((w_0 + w_1) + ...) guarded (|d| < 1e-8 -> 1), used without consensus */
    int32_t pad;             /* 20 */
} ms_task_op;

int ms_abi_version(void);

/* The task-arithmetic family over elements [start, start + count). */
int ms_task_arithmetic(const ms_task_op *op, const ms_model *models, const void *base, int32_t base_dtype,
                       void *out, int32_t out_dtype, int64_t start, int64_t count);

/* linear: acc = ((w_0*x_0 + w_1*x_1) + ...); if normalize, acc / divisor. Uses data, dtype, weight. */
int ms_linear(const ms_model *models, int32_t n, int32_t normalize, float divisor, void *out, int32_t out_dtype,
              int64_t count);

/* Copies count elements, decoding to f32 and encoding with round-to-nearest-even (canonical NaN). */
int ms_convert(const void *in, int32_t in_dtype, void *out, int32_t out_dtype, int64_t count);

/* The DARE draw u(i) of docs/dare-mask.md. */
uint32_t ms_dare_u(int64_t i, uint32_t k0, uint32_t k1);

/*
 * STREAM-style memory bandwidth over float arrays of `bytes` bytes each, on `threads` threads (>= 1),
 * best of `reps` repetitions: copy a[i] = b[i] counts 2 * bytes per pass, triad a[i] = b[i] + s * c[i]
 * counts 3 * bytes (STREAM's convention: write-allocate traffic is not counted). Returns bytes per second,
 * or a negative value on failure (allocation, thread creation).
 */
double ms_stream_copy(int64_t bytes, int32_t threads, int32_t reps);
double ms_stream_triad(int64_t bytes, int32_t threads, int32_t reps);

#ifdef __cplusplus
}
#endif
#endif
