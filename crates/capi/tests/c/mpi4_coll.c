/* The MPI-4 large-count collectives (MPI_Count counts, MPI_Aint displacements):
 * every blocking and nonblocking collective and neighborhood collective in its `_c`
 * form gives the same result as its int form on the same arguments (and the
 * results are checked against the expected values), with a contiguous type (the
 * shared-area path) and a strided one (packing; reductions: a short and a long
 * vector of ints); MPI_IN_PLACE where allowed; a
 * negative count is MPI_ERR_COUNT. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails = 0, rank = -1, size = 0;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)
#define M 64
static int a[M * 8], b[M * 8], sb[M * 8];
static MPI_Request rq;

static void fill(int *x, int n, int base) { for (int i = 0; i < n; i++) x[i] = base + i; }
static void clr(void) { memset(a, 0xff, sizeof a); memset(b, 0xff, sizeof b); }
#define SAME() CHECK(memcmp(a, b, sizeof a) == 0)
#define WAIT() MPI_Wait(&rq, MPI_STATUS_IGNORE)

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm w = MPI_COMM_WORLD;
    MPI_Datatype vec;
    MPI_Type_vector(2, 1, 2, MPI_INT, &vec); /* 2 ints, extent 3 ints */
    MPI_Type_commit(&vec);
    /* cnt: rank i's block in the v forms; xc: what this rank and rank i exchange
     * in alltoallv/w (the same both ways) */
    int cnt[8], xc[8]; int dsp[8]; MPI_Count ccnt[8], cxc[8]; MPI_Aint cdsp[8], bdsp[8]; MPI_Datatype tys[8];
    for (int i = 0; i < size; i++) {
        cnt[i] = ccnt[i] = 2 + (i % 2);
        xc[i] = cxc[i] = 2 + ((i + rank) % 2);
        dsp[i] = cdsp[i] = i * 4;
        bdsp[i] = i * 4 * (MPI_Aint)sizeof(int);
        tys[i] = MPI_INT;
    }

    for (int pass = 0; pass < 2; pass++) {
        MPI_Datatype t = pass ? vec : MPI_INT;
        int k = 3; /* elements of t per block */
        /* bcast */
        clr(); fill(a, M, rank == 1 % size ? 100 : 0); memcpy(b, a, sizeof a);
        MPI_Bcast(a, k, t, 1 % size, w); MPI_Bcast_c(b, k, t, 1 % size, w); SAME();
        CHECK(a[0] == 100);
        memcpy(b, a, sizeof a); fill(b, M, rank == 1 % size ? 100 : 0);
        MPI_Ibcast_c(b, k, t, 1 % size, w, &rq); WAIT(); SAME();
        /* gather / igather */
        fill(sb, M, rank * 1000); clr();
        MPI_Gather(sb, k, t, a, k, t, 0, w); MPI_Gather_c(sb, k, t, b, k, t, 0, w); SAME();
        clr(); MPI_Gather(sb, k, t, a, k, t, 0, w); MPI_Igather_c(sb, k, t, b, k, t, 0, w, &rq); WAIT(); SAME();
        /* scatter */
        fill(sb, M * 8, rank * 1000); clr();
        MPI_Scatter(sb, k, t, a, k, t, 0, w); MPI_Scatter_c(sb, k, t, b, k, t, 0, w); SAME();
        clr(); MPI_Scatter(sb, k, t, a, k, t, 0, w); MPI_Iscatter_c(sb, k, t, b, k, t, 0, w, &rq); WAIT(); SAME();
        /* allgather */
        fill(sb, M, rank * 1000); clr();
        MPI_Allgather(sb, k, t, a, k, t, w); MPI_Allgather_c(sb, k, t, b, k, t, w); SAME();
        clr(); MPI_Allgather(sb, k, t, a, k, t, w); MPI_Iallgather_c(sb, k, t, b, k, t, w, &rq); WAIT(); SAME();
        /* alltoall */
        fill(sb, M * 8, rank * 1000); clr();
        MPI_Alltoall(sb, k, t, a, k, t, w); MPI_Alltoall_c(sb, k, t, b, k, t, w); SAME();
        clr(); MPI_Alltoall(sb, k, t, a, k, t, w); MPI_Ialltoall_c(sb, k, t, b, k, t, w, &rq); WAIT(); SAME();
        /* v forms */
        int mine = cnt[rank];
        clr(); MPI_Gatherv(sb, mine, t, a, cnt, dsp, t, 0, w); MPI_Gatherv_c(sb, mine, t, b, ccnt, cdsp, t, 0, w); SAME();
        clr(); MPI_Gatherv(sb, mine, t, a, cnt, dsp, t, 0, w); MPI_Igatherv_c(sb, mine, t, b, ccnt, cdsp, t, 0, w, &rq); WAIT(); SAME();
        clr(); MPI_Scatterv(sb, cnt, dsp, t, a, mine, t, 0, w); MPI_Scatterv_c(sb, ccnt, cdsp, t, b, mine, t, 0, w); SAME();
        clr(); MPI_Scatterv(sb, cnt, dsp, t, a, mine, t, 0, w); MPI_Iscatterv_c(sb, ccnt, cdsp, t, b, mine, t, 0, w, &rq); WAIT(); SAME();
        clr(); MPI_Allgatherv(sb, mine, t, a, cnt, dsp, t, w); MPI_Allgatherv_c(sb, mine, t, b, ccnt, cdsp, t, w); SAME();
        clr(); MPI_Allgatherv(sb, mine, t, a, cnt, dsp, t, w); MPI_Iallgatherv_c(sb, mine, t, b, ccnt, cdsp, t, w, &rq); WAIT(); SAME();
        clr(); MPI_Alltoallv(sb, xc, dsp, t, a, xc, dsp, t, w); MPI_Alltoallv_c(sb, cxc, cdsp, t, b, cxc, cdsp, t, w); SAME();
        clr(); MPI_Alltoallv(sb, xc, dsp, t, a, xc, dsp, t, w); MPI_Ialltoallv_c(sb, cxc, cdsp, t, b, cxc, cdsp, t, w, &rq); WAIT(); SAME();
    }
    /* alltoallw: byte displacements */
    {
        int wd[8];
        for (int i = 0; i < size; i++) wd[i] = (int)bdsp[i];
        fill(sb, M * 8, rank * 1000);
        clr(); MPI_Alltoallw(sb, xc, wd, tys, a, xc, wd, tys, w); MPI_Alltoallw_c(sb, cxc, bdsp, tys, b, cxc, bdsp, tys, w); SAME();
        clr(); MPI_Alltoallw(sb, xc, wd, tys, a, xc, wd, tys, w); MPI_Ialltoallw_c(sb, cxc, bdsp, tys, b, cxc, bdsp, tys, w, &rq); WAIT(); SAME();
        CHECK(a[0] == rank * 4 && a[4 * (size - 1)] == (size - 1) * 1000 + rank * 4);
    }
    /* reductions (MPICH defines the predefined ops on predefined types only): a
     * short and a longer vector */
    for (int pass = 0; pass < 2; pass++) {
        MPI_Datatype t = MPI_INT;
        int k = pass ? 400 : 3;
        fill(sb, M * 8, rank + 1);
        clr(); MPI_Reduce(sb, a, k, t, MPI_SUM, 0, w); MPI_Reduce_c(sb, b, k, t, MPI_SUM, 0, w); SAME();
        if (rank == 0) CHECK(a[0] == size * (size + 1) / 2);
        clr(); MPI_Reduce(sb, a, k, t, MPI_SUM, 0, w); MPI_Ireduce_c(sb, b, k, t, MPI_SUM, 0, w, &rq); WAIT(); SAME();
        clr(); MPI_Allreduce(sb, a, k, t, MPI_MAX, w); MPI_Allreduce_c(sb, b, k, t, MPI_MAX, w); SAME();
        CHECK(a[0] == size);
        clr(); MPI_Allreduce(sb, a, k, t, MPI_MAX, w); MPI_Iallreduce_c(sb, b, k, t, MPI_MAX, w, &rq); WAIT(); SAME();
        clr(); memcpy(a, sb, sizeof a); memcpy(b, sb, sizeof b);
        MPI_Allreduce(MPI_IN_PLACE, a, k, t, MPI_SUM, w); MPI_Allreduce_c(MPI_IN_PLACE, b, k, t, MPI_SUM, w); SAME();
        clr(); MPI_Scan(sb, a, k, t, MPI_SUM, w); MPI_Scan_c(sb, b, k, t, MPI_SUM, w); SAME();
        CHECK(a[0] == (rank + 1) * (rank + 2) / 2);
        clr(); MPI_Scan(sb, a, k, t, MPI_SUM, w); MPI_Iscan_c(sb, b, k, t, MPI_SUM, w, &rq); WAIT(); SAME();
        clr(); MPI_Exscan(sb, a, k, t, MPI_SUM, w); MPI_Exscan_c(sb, b, k, t, MPI_SUM, w); if (rank > 0) SAME();
        clr(); MPI_Exscan(sb, a, k, t, MPI_SUM, w); MPI_Iexscan_c(sb, b, k, t, MPI_SUM, w, &rq); WAIT(); if (rank > 0) SAME();
        clr(); MPI_Reduce_scatter(sb, a, cnt, t, MPI_SUM, w); MPI_Reduce_scatter_c(sb, b, ccnt, t, MPI_SUM, w); SAME();
        clr(); MPI_Reduce_scatter(sb, a, cnt, t, MPI_SUM, w); MPI_Ireduce_scatter_c(sb, b, ccnt, t, MPI_SUM, w, &rq); WAIT(); SAME();
        clr(); MPI_Reduce_scatter_block(sb, a, 2, t, MPI_SUM, w); MPI_Reduce_scatter_block_c(sb, b, 2, t, MPI_SUM, w); SAME();
        clr(); MPI_Reduce_scatter_block(sb, a, 2, t, MPI_SUM, w); MPI_Ireduce_scatter_block_c(sb, b, 2, t, MPI_SUM, w, &rq); WAIT(); SAME();
    }
    /* neighborhood collectives on a periodic ring */
    {
        MPI_Comm ring;
        int dims[1] = {size}, per[1] = {1};
        MPI_Cart_create(w, 1, dims, per, 0, &ring);
        int nc[2] = {2, 2}, nd[2] = {0, 4}; MPI_Count ncc[2] = {2, 2}; MPI_Aint ndc[2] = {0, 4};
        MPI_Aint nbd[2] = {0, 4 * sizeof(int)}; MPI_Datatype nt[2] = {MPI_INT, MPI_INT};
        int snc[2] = {3, 3}, snd[2] = {0, 4}; MPI_Count sncc[2] = {3, 3}; MPI_Aint sndc[2] = {0, 4};
        fill(sb, M * 8, rank * 100);
        /* equal counts both ways: on 1 or 2 ranks both slots are the same peer */
        int rc2[2] = {3, 3}; MPI_Count rcc2[2] = {3, 3};
        clr(); MPI_Neighbor_allgather(sb, 3, MPI_INT, a, 3, MPI_INT, ring); MPI_Neighbor_allgather_c(sb, 3, MPI_INT, b, 3, MPI_INT, ring); SAME();
        CHECK(a[0] == ((rank + size - 1) % size) * 100 && a[3] == ((rank + 1) % size) * 100);
        clr(); MPI_Neighbor_allgather(sb, 3, MPI_INT, a, 3, MPI_INT, ring); MPI_Ineighbor_allgather_c(sb, 3, MPI_INT, b, 3, MPI_INT, ring, &rq); WAIT(); SAME();
        clr(); MPI_Neighbor_allgatherv(sb, 2, MPI_INT, a, nc, nd, MPI_INT, ring); MPI_Neighbor_allgatherv_c(sb, 2, MPI_INT, b, ncc, ndc, MPI_INT, ring); SAME();
        clr(); MPI_Neighbor_allgatherv(sb, 2, MPI_INT, a, nc, nd, MPI_INT, ring); MPI_Ineighbor_allgatherv_c(sb, 2, MPI_INT, b, ncc, ndc, MPI_INT, ring, &rq); WAIT(); SAME();
        clr(); MPI_Neighbor_alltoall(sb, 3, vec, a, 3, vec, ring); MPI_Neighbor_alltoall_c(sb, 3, vec, b, 3, vec, ring); SAME();
        clr(); MPI_Neighbor_alltoall(sb, 3, vec, a, 3, vec, ring); MPI_Ineighbor_alltoall_c(sb, 3, vec, b, 3, vec, ring, &rq); WAIT(); SAME();
        clr(); MPI_Neighbor_alltoallv(sb, snc, snd, MPI_INT, a, rc2, nd, MPI_INT, ring); MPI_Neighbor_alltoallv_c(sb, sncc, sndc, MPI_INT, b, rcc2, ndc, MPI_INT, ring); SAME();
        clr(); MPI_Neighbor_alltoallv(sb, snc, snd, MPI_INT, a, rc2, nd, MPI_INT, ring); MPI_Ineighbor_alltoallv_c(sb, sncc, sndc, MPI_INT, b, rcc2, ndc, MPI_INT, ring, &rq); WAIT(); SAME();
        clr(); MPI_Neighbor_alltoallw(sb, snc, nbd, nt, a, rc2, nbd, nt, ring); MPI_Neighbor_alltoallw_c(sb, sncc, nbd, nt, b, rcc2, nbd, nt, ring); SAME();
        clr(); MPI_Neighbor_alltoallw(sb, snc, nbd, nt, a, rc2, nbd, nt, ring); MPI_Ineighbor_alltoallw_c(sb, sncc, nbd, nt, b, rcc2, nbd, nt, ring, &rq); WAIT(); SAME();
        MPI_Comm_free(&ring);
    }
    /* negative counts: MPICH 4.0 does not check them in the _c collectives (it
     * crashes or reports another class), so only under vmpi */
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(lib, &len);
    MPI_Comm_set_errhandler(w, MPI_ERRORS_RETURN);
    if (strstr(lib, "vmpi")) {
        int e, cls;
        e = MPI_Bcast_c(a, -1, MPI_INT, 0, w); MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        e = MPI_Allreduce_c(sb, a, -2, MPI_INT, MPI_SUM, w); MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        MPI_Count bad[8]; for (int i = 0; i < 8; i++) bad[i] = -1;
        e = MPI_Allgatherv_c(sb, 1, MPI_INT, a, bad, cdsp, MPI_INT, w); MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
    }
    MPI_Type_free(&vec);
    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
