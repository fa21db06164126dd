/* Start-up cost of an MPI job: how long from the launcher's start to MPI_Init
 * returning on every rank, and how much /dev/shm the job holds once it runs.
 *
 * bench/startup.py sets, before it starts the launcher:
 *   VMPI_BENCH_T0        the launcher's start, seconds since the epoch (CLOCK_REALTIME;
 *                        ranks in namespaces share the kernel's clock)
 *   VMPI_BENCH_SHM_USED  bytes used in /dev/shm before the start (statvfs)
 * After MPI_Init every rank takes the time, then a barrier and an 8-byte allreduce
 * run (the job's first collectives, which some libraries set up lazily), and rank 0
 * prints one line:
 *   startup np N init_max S init_min S first_coll S shm_bytes B
 * init_* = seconds from T0 to MPI_Init returning (slowest and fastest rank);
 * first_coll = seconds from T0 to the allreduce returning on rank 0; shm_bytes =
 * growth of /dev/shm's used bytes as rank 0 sees it (its host only) while the job runs.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double shm_used(void) {
    struct statvfs s;
    if (statvfs("/dev/shm", &s) != 0) return -1;
    return (double)(s.f_blocks - s.f_bfree) * (double)s.f_frsize;
}

int main(int argc, char **argv) {
    const char *t0s = getenv("VMPI_BENCH_T0");
    const char *shm0s = getenv("VMPI_BENCH_SHM_USED");
    MPI_Init(&argc, &argv);
    double t_init = now();
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (!t0s) {
        if (rank == 0) fprintf(stderr, "startup: VMPI_BENCH_T0 is not set (run it from bench/startup.py)\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    double t0 = atof(t0s);
    double since = t_init - t0, init_max, init_min;
    MPI_Reduce(&since, &init_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&since, &init_min, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    long one = 1, sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    double t_coll = now() - t0;
    if (sum != size) {
        fprintf(stderr, "startup: allreduce gave %ld, expected %d\n", sum, size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double shm = shm_used();
    if (rank == 0) {
        double base = shm0s ? atof(shm0s) : 0;
        printf("startup np %d init_max %.4f init_min %.4f first_coll %.4f shm_bytes %.0f\n",
               size, init_max, init_min, t_coll, shm >= 0 ? shm - base : -1);
    }
    MPI_Finalize();
    return 0;
}
