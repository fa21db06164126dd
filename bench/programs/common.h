/* Shared pieces of vmpi's OSU-style micro-benchmarks (the .c files beside it): option
 * parsing, the message-size loop, buffers, data patterns for validation and the
 * OSU output format ("# Size  <value columns>" then one line per size).
 *
 * Options common to every program:
 *   -m [MIN:]MAX   message sizes in bytes, powers of two from MIN to MAX (K/M suffix)
 *   -i N           timed iterations per size (small and large messages)
 *   -x N           warm-up iterations per size (small and large messages)
 *   -c             validate: before timing each size, exchange a known pattern once
 *                  and check every received byte; adds a "Validation" column and
 *                  makes the program exit 1 on a mismatch
 *   -W N           window (bw, bibw, mbw_mr): messages in flight per iteration
 *   -f             full statistics (collectives): min/max latency and iterations
 *   -h             help
 * Messages above 8 KiB ("large") use the smaller large-message iteration defaults.
 */
#ifndef VMPI_BENCH_COMMON_H
#define VMPI_BENCH_COMMON_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LARGE_MESSAGE 8192
#define FIELD_WIDTH 20
#define FLOAT_PRECISION 2

typedef struct {
    const char *name;      /* program name for messages */
    const char *title;     /* first header line */
    size_t min, max;       /* size range */
    long iters, warmup;             /* small messages */
    long iters_large, warmup_large; /* above LARGE_MESSAGE */
    int window;
    int validate;
    int full;
    int uses_window;
} bench_opts;

static int bench_rank, bench_size;
static int bench_failed; /* validation failures seen on this rank */

static inline int bench_parse_size(const char *s, size_t *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s) return -1;
    if (*end == 'k' || *end == 'K') { v <<= 10; end++; }
    else if (*end == 'm' || *end == 'M') { v <<= 20; end++; }
    else if (*end == 'g' || *end == 'G') { v <<= 30; end++; }
    if (*end) return -1;
    *out = (size_t)v;
    return 0;
}

static inline void bench_usage(const bench_opts *o) {
    fprintf(stderr,
            "usage: %s [-m [MIN:]MAX] [-i ITERS] [-x WARMUP] [-c]%s [-f] [-h]\n"
            "  sizes %zu..%zu, %ld/%ld iterations (%ld/%ld above %d bytes)\n",
            o->name, o->uses_window ? " [-W WINDOW]" : "", o->min, o->max, o->iters,
            o->warmup, o->iters_large, o->warmup_large, LARGE_MESSAGE);
}

/* Parses argv into o (defaults already set); MPI_Init must have run. Returns 0 to go
 * on; otherwise the program should finalize and exit with the returned code - 1. */
static inline int bench_init(bench_opts *o, int argc, char **argv) {
    MPI_Comm_rank(MPI_COMM_WORLD, &bench_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &bench_size);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            if (bench_rank == 0) bench_usage(o);
            return 1;
        }
        if (!strcmp(k, "-c") || !strcmp(k, "--validate")) { o->validate = 1; continue; }
        if (!strcmp(k, "-f") || !strcmp(k, "--full")) { o->full = 1; continue; }
        if (i + 1 >= argc) goto bad;
        const char *v = argv[++i];
        size_t n;
        if (!strcmp(k, "-m") || !strcmp(k, "--message-size")) {
            const char *colon = strchr(v, ':');
            if (colon) {
                char lo[64];
                size_t len = (size_t)(colon - v);
                if (len >= sizeof lo) goto bad;
                memcpy(lo, v, len);
                lo[len] = 0;
                if (len && bench_parse_size(lo, &o->min)) goto bad;
                if (colon[1] && bench_parse_size(colon + 1, &o->max)) goto bad;
            } else if (bench_parse_size(v, &o->max)) {
                goto bad;
            }
        } else if (!strcmp(k, "-i") || !strcmp(k, "--iterations")) {
            if (bench_parse_size(v, &n) || n == 0) goto bad;
            o->iters = o->iters_large = (long)n;
        } else if (!strcmp(k, "-x") || !strcmp(k, "--warmup")) {
            if (bench_parse_size(v, &n)) goto bad;
            o->warmup = o->warmup_large = (long)n;
        } else if ((!strcmp(k, "-W") || !strcmp(k, "--window-size")) && o->uses_window) {
            if (bench_parse_size(v, &n) || n == 0) goto bad;
            o->window = (int)n;
        } else {
            goto bad;
        }
        continue;
    bad:
        if (bench_rank == 0) {
            fprintf(stderr, "%s: bad option or value near '%s'\n", o->name, k);
            bench_usage(o);
        }
        return 2;
    }
    if (o->min > o->max) {
        if (bench_rank == 0) fprintf(stderr, "%s: minimum size above maximum\n", o->name);
        return 2;
    }
    return 0;
}

/* Next size of the loop: 0, 1, 2, 4, ... */
static inline size_t bench_next(size_t s) { return s ? s * 2 : 1; }

static inline long bench_iters(const bench_opts *o, size_t size) {
    return size > LARGE_MESSAGE ? o->iters_large : o->iters;
}

static inline long bench_warmup(const bench_opts *o, size_t size) {
    return size > LARGE_MESSAGE ? o->warmup_large : o->warmup;
}

static inline void *bench_alloc(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    if (posix_memalign(&p, 4096, bytes)) {
        fprintf(stderr, "rank %d: cannot allocate %zu bytes\n", bench_rank, bytes);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    memset(p, 0, bytes);
    return p;
}

/* The byte at offset i of a message of `size` bytes sent by rank `from`. */
static inline unsigned char bench_byte(size_t size, int from, size_t i) {
    return (unsigned char)(((i * 131) ^ (size * 7) ^ ((size_t)from * 0x5a) ^ (i >> 8)) & 0xff);
}

static inline void bench_fill(void *buf, size_t size, int from) {
    unsigned char *b = buf;
    for (size_t i = 0; i < size; i++) b[i] = bench_byte(size, from, i);
}

/* Checks a received message; counts and reports (first) mismatches. */
static inline int bench_check(const void *buf, size_t size, int from, const char *what) {
    const unsigned char *b = buf;
    for (size_t i = 0; i < size; i++) {
        if (b[i] != bench_byte(size, from, i)) {
            fprintf(stderr, "rank %d: %s of %zu bytes from rank %d: byte %zu is %u, expected %u\n",
                    bench_rank, what, size, from, i, b[i], bench_byte(size, from, i));
            bench_failed++;
            return 1;
        }
    }
    return 0;
}

/* After a validation round: did any rank see a mismatch? (collective) */
static inline int bench_all_ok(int local_errors) {
    int any = 0;
    MPI_Allreduce(&local_errors, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any == 0;
}

static inline void bench_header(const bench_opts *o, int ncols, const char *const *cols) {
    if (bench_rank != 0) return;
    printf("# %s\n", o->title);
    printf("# vmpi-bench, %d processes\n", bench_size);
    printf("%-10s", "# Size");
    for (int c = 0; c < ncols; c++) printf("%*s", FIELD_WIDTH, cols[c]);
    if (o->validate) printf("%*s", FIELD_WIDTH, "Validation");
    printf("\n");
    fflush(stdout);
}

/* One line: size, ncols values (precision prec[c], or FLOAT_PRECISION), validation. */
static inline void bench_line(const bench_opts *o, size_t size, int ncols, const double *v, int ok) {
    if (bench_rank != 0) return;
    printf("%-10zu", size);
    for (int c = 0; c < ncols; c++) printf("%*.*f", FIELD_WIDTH, FLOAT_PRECISION, v[c]);
    if (o->validate) printf("%*s", FIELD_WIDTH, ok ? "Pass" : "Fail");
    printf("\n");
    fflush(stdout);
}

/* MPI_Finalize and the exit status: 1 when any rank saw a validation failure. */
static inline int bench_finish(void) {
    int any = 0;
    MPI_Allreduce(&bench_failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}

#endif
