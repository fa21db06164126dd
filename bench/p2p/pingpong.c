/* OSU-style point-to-point benchmarks against any MPI (mpi.h): the same two
 * patterns and output format as crates/bench/src/bin/vmpi-p2p-bench.rs, so that
 * vmpi, MPICH and Open MPI are measured by the same loop.
 *
 *   --test latency  (osu_latency): ping-pong between ranks 0 and 1, half round
 *                   trip in microseconds.
 *   --test bw       (osu_bw): window of 64 MPI_Isend / 64 MPI_Irecv into one
 *                   buffer, 4-byte ack per window, MB/s = 10^6 bytes/s.
 *
 * The received bytes are checked on the first (warm-up) iteration of every size.
 *
 *   mpicc.mpich -O2 -o pingpong-mpich pingpong.c
 *   mpiexec.mpich -n 2 ./pingpong-mpich --test latency --min 0 --max 4M
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 64
#define LARGE 8192
#define TAG_DATA 1
#define TAG_ACK 2
#define FIELD_WIDTH 20

enum { LATENCY, BW };

static int test = LATENCY;
static size_t min_size = 0, max_size = 4u << 20;
static long iters_opt = -1, warmup_opt = -1;
static int min_set = 0;

static const char *usage =
    "usage: pingpong [--test latency|bw] [--min SIZE] [--max SIZE] "
    "[--iters N] [--warmup N]   (SIZE: bytes, K/M suffixes allowed)";

static int parse_size(const char *s, size_t *out) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s) return -1;
    if (*end == 'k' || *end == 'K') { v <<= 10; end++; }
    else if (*end == 'm' || *end == 'M') { v <<= 20; end++; }
    if (*end) return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "-h") || !strcmp(k, "--help")) return 1;
        if (i + 1 >= argc) { fprintf(stderr, "pingpong: %s needs a value\n", k); return -1; }
        const char *v = argv[++i];
        size_t n;
        if (!strcmp(k, "--test") || !strcmp(k, "-t")) {
            if (!strcmp(v, "latency") || !strcmp(v, "lat")) test = LATENCY;
            else if (!strcmp(v, "bw") || !strcmp(v, "bandwidth")) test = BW;
            else { fprintf(stderr, "pingpong: --test: '%s' is not latency or bw\n", v); return -1; }
            continue;
        }
        if (parse_size(v, &n)) { fprintf(stderr, "pingpong: %s: bad size '%s'\n", k, v); return -1; }
        if (!strcmp(k, "--min")) { min_size = n; min_set = 1; }
        else if (!strcmp(k, "--max") || !strcmp(k, "-m")) max_size = n;
        else if (!strcmp(k, "--iters") || !strcmp(k, "-i")) iters_opt = (long)n;
        else if (!strcmp(k, "--warmup") || !strcmp(k, "-x")) warmup_opt = (long)n;
        else { fprintf(stderr, "pingpong: unknown option '%s'\n", k); return -1; }
    }
    if (test == BW && !min_set) min_size = 1024;
    if (min_size > max_size) { fprintf(stderr, "pingpong: --min is above --max\n"); return -1; }
    if (iters_opt == 0) { fprintf(stderr, "pingpong: --iters must be at least 1\n"); return -1; }
    return 0;
}

/* Same pattern as the Rust version. */
static unsigned char pattern(size_t size, int from, size_t i) {
    return (unsigned char)((i * 131) ^ (size * 7) ^ ((size_t)from * 0x5a)) ^ (unsigned char)(i >> 8);
}

static void fill(unsigned char *b, size_t size, int from) {
    for (size_t i = 0; i < size; i++) b[i] = pattern(size, from, i);
}

static void check(const unsigned char *b, size_t size, int from, const char *what) {
    for (size_t i = 0; i < size; i++) {
        if (b[i] != pattern(size, from, i)) {
            fprintf(stderr,
                    "pingpong: %s: %zu-byte message from rank %d is corrupt at byte %zu: "
                    "got 0x%02x, expected 0x%02x\n",
                    what, size, from, i, b[i], pattern(size, from, i));
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
}

static void counts(size_t size, long *iters, long *warmup) {
    int large = size > LARGE;
    if (test == LATENCY) { *iters = large ? 1000 : 10000; *warmup = large ? 100 : 1000; }
    else { *iters = large ? 20 : 100; *warmup = large ? 2 : 10; }
    if (iters_opt > 0) *iters = iters_opt;
    if (warmup_opt >= 0) *warmup = warmup_opt;
    if (*warmup < 1) *warmup = 1; /* the checked iteration */
}

static size_t next_size(size_t s) { return s == 0 ? 1 : s * 2; }

int main(int argc, char **argv) {
    int rank, nprocs;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    int pa = parse_args(argc, argv);
    if (pa) {
        if (rank == 0) fprintf(pa > 0 ? stdout : stderr, "%s\n", usage);
        MPI_Finalize();
        return pa > 0 ? 0 : 2;
    }
    if (nprocs != 2) {
        if (rank == 0) fprintf(stderr, "pingpong: this test needs exactly two ranks (got %d)\n", nprocs);
        MPI_Finalize();
        return 1;
    }
    int peer = 1 - rank;
    size_t cap = max_size < 4 ? 4 : max_size;
    unsigned char *sbuf = malloc(cap), *rbuf = malloc(cap), ack[4] = {0};
    if (!sbuf || !rbuf) { perror("malloc"); MPI_Abort(MPI_COMM_WORLD, 2); }
    memset(sbuf, 0, cap);
    memset(rbuf, 0, cap);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int vlen;
    MPI_Get_library_version(version, &vlen);
    char *nl = strchr(version, '\n');
    if (nl) *nl = 0;

    if (rank == 0) {
        printf("# OSU MPI %s Test (pingpong.c, %s)\n", test == LATENCY ? "Latency" : "Bandwidth", version);
        printf("%-*s%*s\n", 10, "# Size", FIELD_WIDTH, test == LATENCY ? "Latency (us)" : "Bandwidth (MB/s)");
        fflush(stdout);
    }
    size_t start = min_size == 0 ? 0 : 1;
    for (size_t size = start; size <= max_size; size = next_size(size)) {
        if (size != 0 && size < min_size) continue;
        long iters, warmup;
        counts(size, &iters, &warmup);
        fill(sbuf, size, rank);
        memset(rbuf, 0xee, size);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = 0;
        for (long i = 0; i < iters + warmup; i++) {
            if (i == warmup) t0 = MPI_Wtime();
            if (test == LATENCY) {
                if (rank == 0) {
                    MPI_Send(sbuf, (int)size, MPI_CHAR, peer, TAG_DATA, MPI_COMM_WORLD);
                    MPI_Recv(rbuf, (int)size, MPI_CHAR, peer, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    MPI_Recv(rbuf, (int)size, MPI_CHAR, peer, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(sbuf, (int)size, MPI_CHAR, peer, TAG_DATA, MPI_COMM_WORLD);
                }
                if (i == 0) check(rbuf, size, peer, "latency");
            } else {
                MPI_Request reqs[WINDOW];
                MPI_Status stats[WINDOW]; /* as osu_bw: real statuses */
                if (rank == 0) {
                    for (int j = 0; j < WINDOW; j++)
                        MPI_Isend(sbuf, (int)size, MPI_CHAR, peer, TAG_DATA, MPI_COMM_WORLD, &reqs[j]);
                    MPI_Waitall(WINDOW, reqs, stats);
                    MPI_Recv(ack, 4, MPI_CHAR, peer, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                } else {
                    for (int j = 0; j < WINDOW; j++)
                        MPI_Irecv(rbuf, (int)size, MPI_CHAR, peer, TAG_DATA, MPI_COMM_WORLD, &reqs[j]);
                    MPI_Waitall(WINDOW, reqs, stats);
                    if (i == 0) check(rbuf, size, peer, "bandwidth");
                    MPI_Send(ack, 4, MPI_CHAR, peer, TAG_ACK, MPI_COMM_WORLD);
                }
            }
        }
        double t = MPI_Wtime() - t0;
        if (rank == 0) {
            if (test == LATENCY)
                printf("%-*zu%*.*f\n", 10, size, FIELD_WIDTH, 2, t * 1e6 / (2.0 * iters));
            else
                printf("%-*zu%*.*f\n", 10, size, FIELD_WIDTH, 2, (size / 1e6) * iters * WINDOW / t);
            fflush(stdout);
        }
    }
    free(sbuf);
    free(rbuf);
    MPI_Finalize();
    return 0;
}
