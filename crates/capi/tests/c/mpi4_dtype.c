/* The MPI-4 large-count datatype, pack and reduction-op forms: every `_c`
 * constructor builds the same type map as its int twin (packing a buffer through
 * both gives the same bytes), its envelope and contents report the arguments as
 * large counts (printed, to compare with MPICH), a contiguous type of more than
 * 2^31 bytes and a vector with a stride past 2^31 report size and extents through
 * the `_c` queries (nothing of that size is allocated), MPI_Pack_c / MPI_Unpack_c /
 * the external32 forms round-trip, a user op of MPI_User_function_c type runs in
 * MPI_Reduce_local_c and MPI_Allreduce, and negative counts are MPI_ERR_COUNT. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails = 0, rank = -1;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static void show(const char *name, MPI_Datatype t) {
    MPI_Count ni, na, nl, nd;
    int comb;
    MPI_Type_get_envelope_c(t, &ni, &na, &nl, &nd, &comb);
    int *is = malloc(sizeof(int) * (ni + 1));
    MPI_Aint *as = malloc(sizeof(MPI_Aint) * (na + 1));
    MPI_Count *ls = malloc(sizeof(MPI_Count) * (nl + 1));
    MPI_Datatype *ds = malloc(sizeof(MPI_Datatype) * (nd + 1));
    MPI_Type_get_contents_c(t, ni, na, nl, nd, is, as, ls, ds);
    if (rank == 0) {
        printf("%s: combiner %d ni %lld na %lld nl %lld nd %lld |", name, comb, (long long)ni, (long long)na, (long long)nl, (long long)nd);
        for (int i = 0; i < ni; i++) printf(" i%d", is[i]);
        for (int i = 0; i < na; i++) printf(" a%ld", (long)as[i]);
        for (int i = 0; i < nl; i++) printf(" l%lld", (long long)ls[i]);
        for (int i = 0; i < nd; i++) printf(" %s", ds[i] == MPI_INT ? "INT" : ds[i] == MPI_BYTE ? "BYTE" : ds[i] == MPI_DOUBLE ? "DOUBLE" : "derived");
        printf("\n");
    }
    for (int i = 0; i < nd; i++) {
        int c2; MPI_Count a, b, c, d;
        MPI_Type_get_envelope_c(ds[i], &a, &b, &c, &d, &c2);
        if (c2 != MPI_COMBINER_NAMED) MPI_Type_free(&ds[i]);
    }
    free(is); free(as); free(ls); free(ds);
}

/* Pack `count` of `a` (int-built) and `b` (_c-built) from the same buffer: same bytes. */
static void same(const char *name, MPI_Datatype a, MPI_Datatype b, int count) {
    MPI_Type_commit(&a);
    MPI_Type_commit(&b);
    int buf[4096];
    for (int i = 0; i < 4096; i++) buf[i] = i * 7 + 1;
    int sa; MPI_Count sb;
    MPI_Pack_size(count, a, MPI_COMM_WORLD, &sa);
    MPI_Pack_size_c(count, b, MPI_COMM_WORLD, &sb);
    CHECK(sa == sb);
    char *pa = malloc(sa + 1), *pb = malloc(sb + 1);
    int posa = 0; MPI_Count posb = 0;
    MPI_Pack(buf, count, a, pa, sa, &posa, MPI_COMM_WORLD);
    MPI_Pack_c(buf, count, b, pb, sb, &posb, MPI_COMM_WORLD);
    CHECK(posa == posb && memcmp(pa, pb, sa) == 0);
    /* and back through MPI_Unpack_c */
    int out[4096];
    memset(out, 0, sizeof out);
    MPI_Count up = 0;
    MPI_Unpack_c(pb, sb, &up, out, count, b, MPI_COMM_WORLD);
    CHECK(up == sb);
    char *again = malloc(sa + 1);
    int p2 = 0;
    MPI_Pack(out, count, a, again, sa, &p2, MPI_COMM_WORLD);
    CHECK(memcmp(again, pa, sa) == 0);
    MPI_Count lb, ext, tlb, text; MPI_Aint lb2, ext2, tlb2, text2;
    MPI_Type_get_extent_c(b, &lb, &ext);
    MPI_Type_get_extent(a, &lb2, &ext2);
    MPI_Type_get_true_extent_c(b, &tlb, &text);
    MPI_Type_get_true_extent(a, &tlb2, &text2);
    CHECK(lb == lb2 && ext == ext2 && tlb == tlb2 && text == text2);
    if (rank == 0) printf("%s: packed %d bytes, extent %lld\n", name, sa, (long long)ext);
    show(name, b);
    free(pa); free(pb); free(again);
    MPI_Type_free(&a);
    MPI_Type_free(&b);
}

static void sum_c(void *in, void *inout, MPI_Count *len, MPI_Datatype *dt) {
    (void)dt;
    for (MPI_Count i = 0; i < *len; i++) ((int *)inout)[i] += ((int *)in)[i] * 2;
}

int main(int argc, char **argv) {
    int size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Datatype a, b;

    MPI_Type_contiguous(5, MPI_INT, &a); MPI_Type_contiguous_c(5, MPI_INT, &b); same("contiguous", a, b, 3);
    MPI_Type_vector(3, 2, 5, MPI_INT, &a); MPI_Type_vector_c(3, 2, 5, MPI_INT, &b); same("vector", a, b, 2);
    MPI_Type_create_hvector(3, 2, 24, MPI_INT, &a); MPI_Type_create_hvector_c(3, 2, 24, MPI_INT, &b); same("hvector", a, b, 2);
    {
        int bl[3] = {2, 1, 3}, dp[3] = {0, 5, 9};
        MPI_Count blc[3] = {2, 1, 3}, dpc[3] = {0, 5, 9};
        MPI_Aint dpa[3] = {0, 20, 36};
        MPI_Count dpac[3] = {0, 20, 36};
        MPI_Type_indexed(3, bl, dp, MPI_INT, &a); MPI_Type_indexed_c(3, blc, dpc, MPI_INT, &b); same("indexed", a, b, 2);
        MPI_Type_create_hindexed(3, bl, dpa, MPI_INT, &a); MPI_Type_create_hindexed_c(3, blc, dpac, MPI_INT, &b); same("hindexed", a, b, 2);
        MPI_Type_create_indexed_block(3, 2, dp, MPI_INT, &a); MPI_Type_create_indexed_block_c(3, 2, dpc, MPI_INT, &b); same("indexed_block", a, b, 2);
        MPI_Type_create_hindexed_block(3, 2, dpa, MPI_INT, &a); MPI_Type_create_hindexed_block_c(3, 2, dpac, MPI_INT, &b); same("hindexed_block", a, b, 2);
        MPI_Datatype ts[3] = {MPI_INT, MPI_DOUBLE, MPI_INT};
        MPI_Aint sd[3] = {0, 8, 24};
        MPI_Count sdc[3] = {0, 8, 24};
        MPI_Type_create_struct(3, bl, sd, ts, &a); MPI_Type_create_struct_c(3, blc, sdc, ts, &b); same("struct", a, b, 2);
    }
    {
        int sz[2] = {6, 8}, sub[2] = {3, 4}, st[2] = {1, 2};
        MPI_Count szc[2] = {6, 8}, subc[2] = {3, 4}, stc[2] = {1, 2};
        MPI_Type_create_subarray(2, sz, sub, st, MPI_ORDER_C, MPI_INT, &a);
        MPI_Type_create_subarray_c(2, szc, subc, stc, MPI_ORDER_C, MPI_INT, &b);
        same("subarray", a, b, 1);
        int gs[2] = {8, 6}, di[2] = {MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_CYCLIC}, da[2] = {MPI_DISTRIBUTE_DFLT_DARG, 2}, ps[2] = {2, 2};
        MPI_Count gsc[2] = {8, 6};
        MPI_Type_create_darray(4, 3, 2, gs, di, da, ps, MPI_ORDER_FORTRAN, MPI_INT, &a);
        MPI_Type_create_darray_c(4, 3, 2, gsc, di, da, ps, MPI_ORDER_FORTRAN, MPI_INT, &b);
        same("darray", a, b, 1);
    }
    MPI_Type_create_resized(MPI_INT, -4, 16, &a); MPI_Type_create_resized_c(MPI_INT, -4, 16, &b); same("resized", a, b, 3);

    /* beyond 2^31 bytes, without allocating */
    {
        MPI_Count big = 3000000000LL, s, lb, ext;
        int is;
        MPI_Type_contiguous_c(big, MPI_BYTE, &b);
        MPI_Type_commit(&b);
        MPI_Type_size_c(b, &s); CHECK(s == big);
        MPI_Type_size(b, &is); CHECK(is == MPI_UNDEFINED);
        MPI_Type_get_extent_c(b, &lb, &ext); CHECK(lb == 0 && ext == big);
        MPI_Type_get_true_extent_c(b, &lb, &ext); CHECK(lb == 0 && ext == big);
        MPI_Pack_size_c(2, b, MPI_COMM_WORLD, &s); CHECK(s >= 2 * big);
                show("contiguous 3e9 bytes", b);
        MPI_Type_free(&b);
        MPI_Type_vector_c(2, 1, big, MPI_BYTE, &b);
        MPI_Type_size_c(b, &s); CHECK(s == 2);
        MPI_Type_get_extent_c(b, &lb, &ext); CHECK(lb == 0 && ext == big + 1);
        show("vector stride 3e9", b);
        MPI_Type_free(&b);
        MPI_Type_size_c(MPI_DOUBLE, &s); CHECK(s == 8);
    }

    /* external32 round trip */
    {
        int v[4] = {1, -2, 0x01020304, 7}, w[4] = {0};
        MPI_Count sz, pos = 0, upos = 0;
        unsigned char ext[16];
        MPI_Pack_external_size_c("external32", 4, MPI_INT, &sz); CHECK(sz == 16);
        MPI_Pack_external_c("external32", v, 4, MPI_INT, ext, sz, &pos); CHECK(pos == 16);
        CHECK(ext[8] == 1 && ext[9] == 2 && ext[10] == 3 && ext[11] == 4);
        MPI_Unpack_external_c("external32", ext, sz, &upos, w, 4, MPI_INT); CHECK(upos == 16);
        CHECK(memcmp(v, w, sizeof v) == 0);
    }

    /* user ops with MPI_Count lengths */
    {
        MPI_Op op;
        int in[6] = {1, 2, 3, 4, 5, 6}, io[6] = {10, 20, 30, 40, 50, 60};
        MPI_Op_create_c(sum_c, 1, &op);
        MPI_Reduce_local_c(in, io, 6, MPI_INT, op);
        for (int i = 0; i < 6; i++) CHECK(io[i] == 10 * (i + 1) + 2 * (i + 1));
        MPI_Type_vector(3, 1, 2, MPI_INT, &a);
        MPI_Type_commit(&a);
        int x[6] = {1, -1, 2, -1, 3, -1}, y[6] = {5, 9, 6, 9, 7, 9};
        MPI_Reduce_local_c(x, y, 1, a, op);
        /* one element of the vector type: sum_c reads len = 1 int at each pointer */
        CHECK(y[0] == 7 && y[2] == 6 && y[4] == 7 && y[1] == 9 && y[3] == 9 && y[5] == 9);
        MPI_Type_free(&a);
        int me[3] = {rank, 1, 2}, r[3];
        MPI_Allreduce(me, r, 3, MPI_INT, op, MPI_COMM_WORLD);
        /* a op b = b + 2a, applied in rank order; only the size-1 result is simple */
        if (size == 1) CHECK(r[0] == 0 && r[1] == 1 && r[2] == 2);
        if (size == 1) printf("allreduce with an MPI_User_function_c op on %d ranks: %d %d %d\n", size, r[0], r[1], r[2]);
        MPI_Op_free(&op);
    }

    /* negative counts */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    {
        int e, cls;
        MPI_Count s;
        /* the int envelope of a type built with MPI_Count arguments */
        int ni, na, nd, comb;
        MPI_Type_contiguous_c(4, MPI_INT, &b);
        e = MPI_Type_get_envelope(b, &ni, &na, &nd, &comb);
        /* vmpi: MPI_ERR_TYPE; MPICH 4.0: MPI_ERR_OTHER */
        CHECK(e != MPI_SUCCESS);
        MPI_Type_free(&b);
        e = MPI_Type_contiguous_c(-1, MPI_INT, &b);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        e = MPI_Pack_size_c(-3, MPI_INT, MPI_COMM_WORLD, &s);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
        e = MPI_Type_vector_c(-2, 1, 1, MPI_INT, &b);
        MPI_Error_class(e, &cls); CHECK(cls == MPI_ERR_COUNT);
    }

    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
