/* Groups, communicator management with attribute callbacks, intercommunicators
 * and error cases. Every line of output is deterministic per rank (the test
 * compares the sorted lines with real MPICH's). */
#include <mpi.h>
#include <stdio.h>
#include <stdint.h>

static int fails = 0, rank, size;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

static int copies = 0, deletes = 0;
static int copy_fn(MPI_Comm c, int k, void *extra, void *in, void *out, int *flag) {
    (void)c; (void)k; (void)extra;
    copies++;
    *(void **)out = (void *)((intptr_t)in + 1);
    *flag = 1;
    return MPI_SUCCESS;
}
static int del_fn(MPI_Comm c, int k, void *v, void *extra) {
    (void)c; (void)k; (void)v; (void)extra;
    deletes++;
    return MPI_SUCCESS;
}

static int cls(int rc) { int c; MPI_Error_class(rc, &c); return c; }

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

    /* group algebra */
    MPI_Group world, g1, g2, g3;
    int gs, gr, cmp, i, rev[64];
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    MPI_Group_size(world, &gs); CHECK(gs == size);
    MPI_Group_rank(world, &gr); CHECK(gr == rank);
    for (i = 0; i < size; i++) rev[i] = size - 1 - i;
    MPI_Group_incl(world, size, rev, &g1);
    MPI_Group_rank(g1, &gr); CHECK(gr == size - 1 - rank);
    MPI_Group_compare(world, g1, &cmp);
    printf("rank %d: compare(world, reversed) = %d\n", rank, cmp);
    int zero = 0;
    MPI_Group_excl(world, 1, &zero, &g2);
    MPI_Group_size(g2, &gs); CHECK(gs == size - 1);
    MPI_Group_rank(g2, &gr); CHECK(gr == (rank == 0 ? MPI_UNDEFINED : rank - 1));
    MPI_Group_union(g2, world, &g3);
    int t; MPI_Group_translate_ranks(world, 1, &zero, g3, &t); CHECK(t == size - 1);
    int pn = MPI_PROC_NULL; MPI_Group_translate_ranks(world, 1, &pn, g3, &t); CHECK(t == MPI_PROC_NULL);
    MPI_Group_free(&g3); CHECK(g3 == MPI_GROUP_NULL);
    MPI_Group_intersection(g1, g2, &g3);
    MPI_Group_size(g3, &gs); CHECK(gs == size - 1);
    MPI_Group_compare(g3, g2, &cmp);
    printf("rank %d: compare(reversed & excl0, excl0) = %d\n", rank, cmp);
    if (g3 != MPI_GROUP_EMPTY) MPI_Group_free(&g3);
    MPI_Group_difference(world, world, &g3);
    MPI_Group_size(g3, &gs); CHECK(gs == 0);
    printf("rank %d: difference(world, world) is MPI_GROUP_EMPTY: %d\n", rank, g3 == MPI_GROUP_EMPTY);
    int ranges[1][3] = {{0, size - 1, 2}};
    MPI_Group_range_incl(world, 1, ranges, &g3);
    MPI_Group_size(g3, &gs); CHECK(gs == (size + 1) / 2);
    MPI_Group_rank(g3, &gr); CHECK(gr == (rank % 2 ? MPI_UNDEFINED : rank / 2));
    MPI_Group evens = g3;
    MPI_Group_range_excl(world, 1, ranges, &g3);
    MPI_Group_size(g3, &gs); CHECK(gs == size / 2);
    if (g3 != MPI_GROUP_EMPTY) MPI_Group_free(&g3);

    /* dup with attribute callbacks */
    int kv, kv2, kv3, flag;
    void *v;
    MPI_Comm_create_keyval(copy_fn, del_fn, &kv, NULL);
    MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, del_fn, &kv2, NULL);
    MPI_Comm_create_keyval(MPI_COMM_DUP_FN, MPI_COMM_NULL_DELETE_FN, &kv3, NULL);
    MPI_Comm_set_attr(MPI_COMM_WORLD, kv, (void *)100);
    MPI_Comm_set_attr(MPI_COMM_WORLD, kv2, (void *)200);
    MPI_Comm_set_attr(MPI_COMM_WORLD, kv3, (void *)300);
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    MPI_Comm_get_attr(dup, kv, &v, &flag); CHECK(flag && (intptr_t)v == 101);
    MPI_Comm_get_attr(dup, kv2, &v, &flag); CHECK(!flag);
    MPI_Comm_get_attr(dup, kv3, &v, &flag); CHECK(flag && (intptr_t)v == 300);
    CHECK(copies == 1);
    MPI_Errhandler eh; MPI_Comm_get_errhandler(dup, &eh); CHECK(eh == MPI_ERRORS_RETURN);
    MPI_Comm_compare(MPI_COMM_WORLD, dup, &cmp); CHECK(cmp == MPI_CONGRUENT);
    int tin; MPI_Comm_test_inter(dup, &tin); CHECK(!tin);
    {   /* p2p on the dup: a ring */
        int s = rank, r = -1;
        MPI_Sendrecv(&s, 1, MPI_INT, (rank + 1) % size, 5, &r, 1, MPI_INT, (rank + size - 1) % size, 5, dup, MPI_STATUS_IGNORE);
        CHECK(r == (rank + size - 1) % size);
    }
    MPI_Comm dup2;
    MPI_Request ireq;
    MPI_Comm_idup(dup, &dup2, &ireq);
    MPI_Wait(&ireq, MPI_STATUS_IGNORE);
    MPI_Comm_get_attr(dup2, kv, &v, &flag); CHECK(flag && (intptr_t)v == 102);
    MPI_Comm_free(&dup2);
    MPI_Comm_free(&dup); CHECK(dup == MPI_COMM_NULL);
    CHECK(deletes == 2);
    printf("rank %d: copies %d deletes %d\n", rank, copies, deletes);
    MPI_Comm_delete_attr(MPI_COMM_WORLD, kv);
    MPI_Comm_delete_attr(MPI_COMM_WORLD, kv2);
    MPI_Comm_delete_attr(MPI_COMM_WORLD, kv3);

    /* split: colors by parity, keys reversed */
    MPI_Comm sp;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, -rank, &sp);
    int sr, ss; MPI_Comm_rank(sp, &sr); MPI_Comm_size(sp, &ss);
    printf("rank %d: split rank %d of %d\n", rank, sr, ss);
    MPI_Comm_compare(MPI_COMM_WORLD, sp, &cmp);
    printf("rank %d: compare(world, split) = %d\n", rank, cmp);
    MPI_Comm_free(&sp);
    MPI_Comm_split(MPI_COMM_WORLD, rank == 0 ? MPI_UNDEFINED : 1, 0, &sp);
    CHECK((rank == 0) == (sp == MPI_COMM_NULL));
    if (sp != MPI_COMM_NULL) MPI_Comm_free(&sp);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &sp);
    MPI_Comm_size(sp, &ss); CHECK(ss == size);
    MPI_Comm_free(&sp);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_UNDEFINED, 0, MPI_INFO_NULL, &sp);
    CHECK(sp == MPI_COMM_NULL);

    /* create and create_group */
    MPI_Comm cr;
    MPI_Comm_create(MPI_COMM_WORLD, g2, &cr);
    CHECK((rank == 0) == (cr == MPI_COMM_NULL));
    if (cr != MPI_COMM_NULL) {
        MPI_Comm_rank(cr, &sr); CHECK(sr == rank - 1);
        MPI_Comm_free(&cr);
    }
    if (rank % 2 == 0) {
        MPI_Comm_create_group(MPI_COMM_WORLD, evens, 7, &cr);
        MPI_Comm_rank(cr, &sr); MPI_Comm_size(cr, &ss);
        printf("rank %d: create_group rank %d of %d\n", rank, sr, ss);
        MPI_Comm_free(&cr);
    }

    /* intercommunicator of evens and odds */
    if (size >= 2) {
        MPI_Comm local, inter, merged;
        int color = rank % 2;
        MPI_Comm_split(MPI_COMM_WORLD, color, rank, &local);
        MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, color ? 0 : 1, 99, &inter);
        MPI_Comm_test_inter(inter, &tin); CHECK(tin);
        int rs; MPI_Comm_remote_size(inter, &rs);
        CHECK(rs == (color ? (size + 1) / 2 : size / 2));
        MPI_Group rg; MPI_Comm_remote_group(inter, &rg);
        MPI_Group_size(rg, &gs); CHECK(gs == rs);
        MPI_Group_free(&rg);
        int lr; MPI_Comm_rank(inter, &lr);
        if (lr < rs) {   /* local rank i talks to remote rank i */
            int s = rank, r = -1;
            MPI_Sendrecv(&s, 1, MPI_INT, lr, 3, &r, 1, MPI_INT, lr, 3, inter, MPI_STATUS_IGNORE);
            CHECK(r == (color ? 2 * lr : 2 * lr + 1));
            printf("rank %d: intercomm partner %d\n", rank, r);
        }
        MPI_Intercomm_merge(inter, color, &merged);
        MPI_Comm_rank(merged, &sr); MPI_Comm_size(merged, &ss);
        CHECK(ss == size);
        CHECK(sr == (color ? (size + 1) / 2 + rank / 2 : rank / 2));
        printf("rank %d: merged rank %d of %d\n", rank, sr, ss);
        MPI_Comm_free(&merged);
        MPI_Comm_free(&inter);
        MPI_Comm_free(&local);
    }

    /* names */
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    char name[MPI_MAX_OBJECT_NAME]; int len;
    MPI_Comm_set_name(dup, "mydup");
    MPI_Comm_get_name(dup, name, &len);
    printf("rank %d: name %s\n", rank, name);
    MPI_Comm_free(&dup);

    /* error cases under MPI_ERRORS_RETURN */
    MPI_Comm w = MPI_COMM_WORLD;
    int rc = MPI_Comm_free(&w);
    printf("rank %d: free(MPI_COMM_WORLD) class %d\n", rank, cls(rc));
    int x;
    rc = MPI_Group_size(MPI_GROUP_NULL, &x);
    printf("rank %d: group_size(MPI_GROUP_NULL) class %d\n", rank, cls(rc));
    rc = MPI_Comm_size(MPI_COMM_NULL, &x);
    printf("rank %d: comm_size(MPI_COMM_NULL) class %d\n", rank, cls(rc));
    int bad = size;
    rc = MPI_Group_incl(world, 1, &bad, &g3);
    printf("rank %d: group_incl(bad rank) class %d\n", rank, cls(rc));
    x = -1;
    rc = MPI_Comm_remote_size(MPI_COMM_WORLD, &x);
    printf("rank %d: remote_size(intracomm) class %d size %d\n", rank, cls(rc), x);
    int a, b;
    rc = MPI_Cart_shift(MPI_COMM_WORLD, 0, 1, &a, &b);
    printf("rank %d: cart_shift(no topology) class %d\n", rank, cls(rc));

    MPI_Group_free(&g1); MPI_Group_free(&g2); MPI_Group_free(&evens); MPI_Group_free(&world);
    MPI_Comm_free_keyval(&kv); MPI_Comm_free_keyval(&kv2); MPI_Comm_free_keyval(&kv3);
    MPI_Barrier(MPI_COMM_WORLD);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
