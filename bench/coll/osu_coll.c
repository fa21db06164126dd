/* OSU-style collective latency for MPICH / Open MPI, the same loop as
 * crates/testsuite/src/bin/coll_bench.rs: barrier before each timed call,
 * average over ranks of the mean latency. mpicc.mpich -O2 -o osu_coll osu_coll.c */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int me, p;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    const char *all[] = {"bcast", "allreduce", "alltoall", "barrier", "allgather", "reduce"};
    int nops = argc > 1 ? argc - 1 : 6;
    float *a = malloc((size_t)(1 << 20) * p), *b = malloc((size_t)(1 << 20) * p);
    for (size_t i = 0; i < (size_t)(1 << 18) * p; i++) a[i] = 1.0f;
    for (int o = 0; o < nops; o++) {
        const char *op = argc > 1 ? argv[o + 1] : all[o];
        if (me == 0) printf("# OSU-style %s latency, %d ranks\n# Size Avg Latency(us)\n", op, p);
        int barrier = !strcmp(op, "barrier");
        for (int k = barrier ? 0 : 2; k <= (barrier ? 0 : 20); k++) {
            size_t size = barrier ? 0 : (size_t)1 << k;
            int iters = size > 65536 ? 20 : 200, warm = size > 65536 ? 2 : 10;
            int n = size / 4 ? (int)(size / 4) : 1;
            double t = 0;
            for (int i = 0; i < iters + warm; i++) {
                MPI_Barrier(MPI_COMM_WORLD);
                double t0 = MPI_Wtime();
                if (!strcmp(op, "bcast")) MPI_Bcast(b, n, MPI_FLOAT, 0, MPI_COMM_WORLD);
                else if (!strcmp(op, "allreduce")) MPI_Allreduce(a, b, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                else if (!strcmp(op, "reduce")) MPI_Reduce(a, b, n, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
                else if (!strcmp(op, "alltoall")) MPI_Alltoall(a, n, MPI_FLOAT, b, n, MPI_FLOAT, MPI_COMM_WORLD);
                else if (!strcmp(op, "allgather")) MPI_Allgather(a, n, MPI_FLOAT, b, n, MPI_FLOAT, MPI_COMM_WORLD);
                else MPI_Barrier(MPI_COMM_WORLD);
                if (i >= warm) t += MPI_Wtime() - t0;
            }
            double mine = t * 1e6 / iters, avg = 0;
            MPI_Reduce(&mine, &avg, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
            if (me == 0) printf("%-10zu%12.2f\n", size, avg / p);
        }
    }
    free(a); free(b);
    MPI_Finalize();
    return 0;
}
