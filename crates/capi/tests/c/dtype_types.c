/* Derived datatypes: every constructor's bounds and contents (rank 0 prints them:
 * the output is compared with MPICH's), pack/unpack round trips, send/recv of
 * non-contiguous types with verified contents, error cases. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stddef.h>

static int rank, size, fails;
#define CHECK(c) do { if (!(c)) { printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); fails++; } } while (0)

static void show(const char *name, MPI_Datatype t) {
    int sz, ni, na, nd, comb;
    MPI_Aint lb, ext, tlb, text;
    MPI_Count csz;
    MPI_Type_size(t, &sz);
    MPI_Type_size_x(t, &csz);
    MPI_Type_get_extent(t, &lb, &ext);
    MPI_Type_get_true_extent(t, &tlb, &text);
    MPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
    if (rank == 0) {
        printf("%-12s size %d/%lld lb %ld extent %ld true_lb %ld true_extent %ld env %d %d %d comb %d", name, sz, (long long)csz,
               (long)lb, (long)ext, (long)tlb, (long)text, ni, na, nd, comb);
        if (comb != MPI_COMBINER_NAMED) {
            int *iv = malloc(sizeof(int) * (ni + 1));
            MPI_Aint *av = malloc(sizeof(MPI_Aint) * (na + 1));
            MPI_Datatype *dv = malloc(sizeof(MPI_Datatype) * (nd + 1));
            MPI_Type_get_contents(t, ni, na, nd, iv, av, dv);
            printf(" ints");
            for (int i = 0; i < ni; i++) printf(" %d", iv[i]);
            printf(" addrs");
            for (int i = 0; i < na; i++) printf(" %ld", (long)av[i]);
            printf(" types");
            for (int i = 0; i < nd; i++) {
                int a, b, c, cb;
                MPI_Type_get_envelope(dv[i], &a, &b, &c, &cb);
                if (cb == MPI_COMBINER_NAMED) {
                    char nm[MPI_MAX_OBJECT_NAME]; int l;
                    MPI_Type_get_name(dv[i], nm, &l);
                    printf(" %s", nm);
                } else {
                    int s2; MPI_Type_size(dv[i], &s2);
                    printf(" derived(comb %d size %d)", cb, s2);
                    MPI_Type_free(&dv[i]);
                }
            }
            free(iv); free(av); free(dv);
        }
        printf("\n");
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

    MPI_Datatype contig, vec, hvec, idx, hidx, iblk, hiblk, st, sub, dar, res, dup, st2, vecvec, dupi;
    MPI_Type_contiguous(3, MPI_INT, &contig);
    MPI_Type_vector(3, 2, 4, MPI_DOUBLE, &vec);
    MPI_Type_create_hvector(2, 3, 40, MPI_INT, &hvec);
    int bl[3] = {1, 2, 3}, dp[3] = {5, 0, 10};
    MPI_Type_indexed(3, bl, dp, MPI_INT, &idx);
    MPI_Aint hdp[3] = {-8, 16, 40};
    MPI_Type_create_hindexed(3, bl, hdp, MPI_SHORT, &hidx);
    MPI_Type_create_indexed_block(3, 2, dp, MPI_FLOAT, &iblk);
    MPI_Type_create_hindexed_block(3, 2, hdp, MPI_CHAR, &hiblk);
    struct S { char c; double d; int i[2]; };
    int sbl[3] = {1, 1, 2};
    MPI_Aint sdp[3] = {offsetof(struct S, c), offsetof(struct S, d), offsetof(struct S, i)};
    MPI_Datatype sty[3] = {MPI_CHAR, MPI_DOUBLE, MPI_INT};
    MPI_Type_create_struct(3, sbl, sdp, sty, &st);
    int sizes[2] = {6, 7}, subs[2] = {3, 2}, starts[2] = {1, 4};
    MPI_Type_create_subarray(2, sizes, subs, starts, MPI_ORDER_C, MPI_INT, &sub);
    int gs[2] = {8, 9}, di[2] = {MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_CYCLIC}, da[2] = {MPI_DISTRIBUTE_DFLT_DARG, 2}, ps[2] = {2, 2};
    MPI_Type_create_darray(4, 3, 2, gs, di, da, ps, MPI_ORDER_FORTRAN, MPI_DOUBLE, &dar);
    MPI_Type_create_resized(vec, -8, 100, &res);
    MPI_Type_dup(st, &dup);
    MPI_Type_dup(MPI_INT, &dupi);
    MPI_Datatype st2t[2] = {vec, MPI_DOUBLE_INT};
    int st2bl[2] = {2, 1};
    MPI_Aint st2dp[2] = {0, 400};
    MPI_Type_create_struct(2, st2bl, st2dp, st2t, &st2);
    MPI_Type_vector(2, 1, 3, vec, &vecvec);

    show("int", MPI_INT);
    show("double_int", MPI_DOUBLE_INT);
    show("short_int", MPI_SHORT_INT);
    show("long_double", MPI_LONG_DOUBLE);
    show("contig", contig);
    show("vector", vec);
    show("hvector", hvec);
    show("indexed", idx);
    show("hindexed", hidx);
    show("idx_block", iblk);
    show("hidx_block", hiblk);
    show("struct", st);
    show("subarray", sub);
    show("darray", dar);
    show("resized", res);
    show("dup", dup);
    show("dup_int", dupi);
    show("struct2", st2);
    show("vecvec", vecvec);

    MPI_Datatype all[] = {contig, vec, hvec, idx, hidx, iblk, hiblk, st, sub, dar, res, dup, st2, vecvec, dupi};
    int nall = sizeof(all) / sizeof(all[0]);

    /* Uncommitted type in communication: MPI_ERR_TYPE. */
    {
        int buf[64] = {0}, cls;
        int rc = MPI_Send(buf, 1, contig, MPI_PROC_NULL, 0, MPI_COMM_WORLD);
        MPI_Error_class(rc, &cls);
        CHECK(cls == MPI_ERR_TYPE);
        MPI_Datatype p = MPI_INT;
        rc = MPI_Type_free(&p);
        MPI_Error_class(rc, &cls);
        CHECK(cls == MPI_ERR_TYPE);
    }
    for (int i = 0; i < nall; i++) MPI_Type_commit(&all[i]);

    /* Pack / unpack round trips; external32 bytes. */
    {
        double src[200], dst[200];
        for (int i = 0; i < 200; i++) { src[i] = i + 0.5; dst[i] = -1; }
        char packed[4096];
        int pos = 0, psz;
        MPI_Pack_size(2, vec, MPI_COMM_WORLD, &psz);
        MPI_Pack(src, 2, vec, packed, sizeof packed, &pos, MPI_COMM_WORLD);
        CHECK(pos == 96 && psz >= 96);
        int pos2 = 0;
        MPI_Unpack(packed, pos, &pos2, dst, 2, vec, MPI_COMM_WORLD);
        CHECK(pos2 == pos);
        for (int k = 0; k < 2; k++)
            for (int b = 0; b < 3; b++)
                for (int j = 0; j < 2; j++) {
                    int at = k * 10 + b * 4 + j;
                    CHECK(dst[at] == src[at]);
                }
        CHECK(dst[2] == -1 && dst[3] == -1);
        int iv[4] = {1, 2, 0x01020304, -1};
        unsigned char ext[64];
        MPI_Aint ep = 0, esz;
        MPI_Pack_external_size("external32", 4, MPI_INT, &esz);
        MPI_Pack_external("external32", iv, 4, MPI_INT, ext, sizeof ext, &ep);
        if (rank == 0) {
            printf("external32 size %ld pos %ld:", (long)esz, (long)ep);
            for (int i = 0; i < ep; i++) printf(" %02x", ext[i]);
            printf("\n");
        }
        int back[4] = {0};
        MPI_Aint ep2 = 0;
        MPI_Unpack_external("external32", ext, ep, &ep2, back, 4, MPI_INT);
        CHECK(memcmp(back, iv, sizeof iv) == 0);
        /* Truncation: MPI_ERR_TRUNCATE class from a too small buffer. */
        pos = 0;
        int rc = MPI_Pack(src, 2, vec, packed, 10, &pos, MPI_COMM_WORLD), cls;
        MPI_Error_class(rc, &cls);
        (void)cls; /* MPICH does not report this one; we return MPI_ERR_TRUNCATE */
    }

    /* Send/recv of derived types between ranks (ring), verified. */
    if (size > 1) {
        int next = (rank + 1) % size, prev = (rank + size - 1) % size;
        for (int t = 0; t < nall; t++) {
            MPI_Aint lb, ext, tlb, text;
            MPI_Type_get_extent(all[t], &lb, &ext);
            MPI_Type_get_true_extent(all[t], &tlb, &text);
            int n = 3;
            size_t span = (size_t)(ext > 0 ? ext : 0) * n + text + 64;
            unsigned char *a = malloc(span), *b = malloc(span), *c = malloc(span);
            for (size_t i = 0; i < span; i++) { a[i] = (unsigned char)(i * 7 + rank); b[i] = 0xee; c[i] = 0xee; }
            unsigned char *base_a = a - tlb + 32, *base_b = b - tlb + 32, *base_c = c - tlb + 32;
            MPI_Request r;
            MPI_Status s;
            MPI_Irecv(base_b, n, all[t], prev, t, MPI_COMM_WORLD, &r);
            MPI_Send(base_a, n, all[t], next, t, MPI_COMM_WORLD);
            MPI_Wait(&r, &s);
            int cnt, el;
            MPI_Get_count(&s, all[t], &cnt);
            MPI_Get_elements(&s, all[t], &el);
            CHECK(cnt == n);
            /* expected: what prev packed; locally: pack our a with prev's pattern */
            for (size_t i = 0; i < span; i++) c[i] = (unsigned char)(i * 7 + prev);
            int psz; MPI_Pack_size(n, all[t], MPI_COMM_WORLD, &psz);
            char *p1 = malloc(psz + 1), *p2 = malloc(psz + 1);
            int q1 = 0, q2 = 0;
            MPI_Pack(base_b, n, all[t], p1, psz, &q1, MPI_COMM_WORLD);
            MPI_Pack(base_c, n, all[t], p2, psz, &q2, MPI_COMM_WORLD);
            CHECK(q1 == q2 && memcmp(p1, p2, q1) == 0);
            /* bytes outside the type map are untouched */
            memset(c, 0xee, span);
            int q3 = 0;
            MPI_Unpack(p1, q1, &q3, base_c, n, all[t], MPI_COMM_WORLD);
            CHECK(memcmp(b, c, span) == 0);
            /* MPICH counts 12 elements for struct2 (3 x {2 vectors, 1 DOUBLE_INT});
             * the standard's count, ours, is 42: not compared. */
            if (rank == 0 && t != 12) printf("sendrecv type %d count %d elements %d\n", t, cnt, el);
            /* persistent + sendrecv_replace */
            MPI_Sendrecv_replace(base_c, n, all[t], next, 100 + t, prev, 100 + t, MPI_COMM_WORLD, &s);
            free(a); free(b); free(c); free(p1); free(p2);
        }
    }
    /* Get_elements on a partial struct */
    if (size > 1) {
        if (rank == 0) {
            char buf[64] = {0};
            MPI_Send(buf, 9, MPI_BYTE, 1, 7, MPI_COMM_WORLD);
        } else if (rank == 1) {
            struct S x[2];
            MPI_Status s;
            MPI_Recv(x, 2, st, 0, 7, MPI_COMM_WORLD, &s);
            int cnt, el;
            MPI_Get_count(&s, st, &cnt);
            MPI_Get_elements(&s, st, &el);
            CHECK(cnt == MPI_UNDEFINED && el == 2);
        }
    }
    for (int i = 0; i < nall; i++) MPI_Type_free(&all[i]);
    CHECK(all[0] == MPI_DATATYPE_NULL);
    int mc[3] = {MPI_TYPECLASS_REAL, MPI_TYPECLASS_INTEGER, MPI_TYPECLASS_COMPLEX};
    for (int c = 0; c < 3; c++)
        for (int sz = 1; sz <= 32; sz *= 2) {
            MPI_Datatype m;
            if (MPI_Type_match_size(mc[c], sz, &m) == MPI_SUCCESS && rank == 0) {
                char nm[MPI_MAX_OBJECT_NAME]; int l;
                MPI_Type_get_name(m, nm, &l);
                printf("match_size %d %d: %s\n", mc[c], sz, nm);
            }
        }
    printf("rank %d of %d: %s\n", rank, size, fails ? "FAIL" : "PASS");
    MPI_Finalize();
    return 0;
}
