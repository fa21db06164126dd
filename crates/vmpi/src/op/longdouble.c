/* Reductions on C `long double` (x87 80-bit extended precision in 16 bytes on
 * x86-64 Linux) and `long double _Complex`, which Rust cannot compute on. Loads and
 * stores go through memcpy: the buffers need not be aligned. */
#include <stddef.h>
#include <string.h>
#include <complex.h>

size_t vmpi_ld_size(void) { return sizeof(long double); }

void vmpi_ld_from_double(double d, unsigned char *out) {
    long double x = d;
    memset(out, 0, sizeof x);
    memcpy(out, &x, sizeof x);
}

double vmpi_ld_to_double(const unsigned char *in) {
    long double x;
    memcpy(&x, in, sizeof x);
    return (double)x;
}

/* op: 0 MAX, 1 MIN, 2 SUM, 3 PROD. inout[i] = in[i] op inout[i]. */
int vmpi_ld_apply(int op, const unsigned char *in, unsigned char *io, size_t n) {
    const size_t s = sizeof(long double);
    for (size_t i = 0; i < n; i++) {
        long double a, b, r;
        memcpy(&a, in + i * s, s);
        memcpy(&b, io + i * s, s);
        switch (op) {
        case 0: r = a > b ? a : b; break;
        case 1: r = a < b ? a : b; break;
        case 2: r = a + b; break;
        case 3: r = a * b; break;
        default: return -1;
        }
        memcpy(io + i * s, &r, s);
    }
    return 0;
}

/* op: 2 SUM, 3 PROD on long double _Complex (32 bytes each). */
int vmpi_cld_apply(int op, const unsigned char *in, unsigned char *io, size_t n) {
    const size_t s = sizeof(long double _Complex);
    for (size_t i = 0; i < n; i++) {
        long double _Complex a, b, r;
        memcpy(&a, in + i * s, s);
        memcpy(&b, io + i * s, s);
        switch (op) {
        case 2: r = a + b; break;
        case 3: r = a * b; break;
        default: return -1;
        }
        memcpy(io + i * s, &r, s);
    }
    return 0;
}

/* MAXLOC (maxloc = 1) / MINLOC (0) on MPI_LONG_DOUBLE_INT: struct { long double v; int i; }.
 * Ties keep the lower index. */
struct ldi { long double v; int i; };
int vmpi_ldi_apply(int maxloc, const unsigned char *in, unsigned char *io, size_t n) {
    const size_t s = sizeof(struct ldi);
    for (size_t k = 0; k < n; k++) {
        struct ldi a, b;
        memcpy(&a, in + k * s, s);
        memcpy(&b, io + k * s, s);
        int a_wins = maxloc ? a.v > b.v : a.v < b.v;
        if (a_wins) {
            b = a;
        } else if (a.v == b.v && a.i < b.i) {
            b.i = a.i;
        }
        memcpy(io + k * s, &b, s);
    }
    return 0;
}
