/* Cartesian (periodic and not, shifts at the edges, sub), graph and distributed
 * graph topologies and their queries; neighborhood collectives with their
 * contents checked. Output is deterministic per rank (compared with MPICH's). */
#include <mpi.h>
#include <stdio.h>

static int fails = 0, rank, size;
#define CHECK(c) do { if (!(c)) { fails++; printf("rank %d: FAIL line %d: %s\n", rank, __LINE__, #c); } } while (0)

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int i, k, st;

    /* Cartesian: dims from MPI_Dims_create, periodic in dimension 0 only */
    int dims[2] = {0, 0}, periods[2] = {1, 0}, coords[2];
    MPI_Dims_create(size, 2, dims);
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
    MPI_Topo_test(cart, &st); CHECK(st == MPI_CART);
    MPI_Topo_test(MPI_COMM_WORLD, &st); CHECK(st == MPI_UNDEFINED);
    int nd; MPI_Cartdim_get(cart, &nd); CHECK(nd == 2);
    int gd[2], gp[2];
    MPI_Cart_get(cart, 2, gd, gp, coords);
    CHECK(gd[0] == dims[0] && gd[1] == dims[1] && gp[0] == 1 && gp[1] == 0);
    int r; MPI_Cart_rank(cart, coords, &r); CHECK(r == rank);
    int c2[2]; MPI_Cart_coords(cart, rank, 2, c2); CHECK(c2[0] == coords[0] && c2[1] == coords[1]);
    int s0, d0, s1, d1;
    MPI_Cart_shift(cart, 0, 1, &s0, &d0);
    MPI_Cart_shift(cart, 1, 1, &s1, &d1);
    printf("rank %d: dims %dx%d coords (%d,%d) shift0 %d %d shift1 %d %d\n", rank, dims[0], dims[1], coords[0], coords[1], s0, d0, s1, d1);
    if (coords[1] == 0) CHECK(s1 == MPI_PROC_NULL);
    if (coords[1] == dims[1] - 1) CHECK(d1 == MPI_PROC_NULL);
    int wrap[2] = {-1, 0};
    MPI_Cart_rank(cart, wrap, &r); CHECK(r == (dims[0] - 1) * dims[1]);
    int out_of[2] = {0, dims[1]};
    int rc = MPI_Cart_rank(cart, out_of, &r);
    printf("rank %d: cart_rank(outside) fails %d\n", rank, rc != MPI_SUCCESS);
    int remain[2] = {0, 1};
    MPI_Comm row;
    MPI_Cart_sub(cart, remain, &row);
    int rr, rs; MPI_Comm_rank(row, &rr); MPI_Comm_size(row, &rs);
    MPI_Cartdim_get(row, &nd);
    printf("rank %d: sub rank %d of %d ndims %d\n", rank, rr, rs, nd);
    CHECK(rr == coords[1] && rs == dims[1] && nd == 1);
    int nr; MPI_Cart_map(MPI_COMM_WORLD, 2, dims, periods, &nr); CHECK(nr == rank);

    /* neighbor allgather and alltoall on the Cartesian communicator */
    int nb[4] = {s0, d0, s1, d1};
    int got[4] = {-7, -7, -7, -7};
    MPI_Neighbor_allgather(&rank, 1, MPI_INT, got, 1, MPI_INT, cart);
    for (k = 0; k < 4; k++) CHECK(got[k] == (nb[k] == MPI_PROC_NULL ? -7 : nb[k]));
    printf("rank %d: cart allgather %d %d %d %d\n", rank, got[0], got[1], got[2], got[3]);
    int snd[4], rcv[4] = {-7, -7, -7, -7};
    for (k = 0; k < 4; k++) snd[k] = rank * 100 + k;
    MPI_Neighbor_alltoall(snd, 1, MPI_INT, rcv, 1, MPI_INT, cart);
    for (k = 0; k < 4; k++)
        if (nb[k] != MPI_PROC_NULL && (k >= 2 || dims[0] > 2)) CHECK(rcv[k] == nb[k] * 100 + (k ^ 1));
    if (dims[0] > 2)
        printf("rank %d: cart alltoall %d %d %d %d\n", rank, rcv[0], rcv[1], rcv[2], rcv[3]);
    MPI_Request req;
    for (k = 0; k < 4; k++) got[k] = -7;
    MPI_Ineighbor_allgather(&rank, 1, MPI_INT, got, 1, MPI_INT, cart, &req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
    for (k = 0; k < 4; k++) CHECK(got[k] == (nb[k] == MPI_PROC_NULL ? -7 : nb[k]));
    MPI_Comm_free(&row);
    MPI_Comm_free(&cart);

    /* graph: a ring */
    int index[64], edges[128];
    for (i = 0; i < size; i++) {
        index[i] = 2 * (i + 1);
        edges[2 * i] = (i + size - 1) % size;
        edges[2 * i + 1] = (i + 1) % size;
    }
    MPI_Comm g;
    MPI_Graph_create(MPI_COMM_WORLD, size, index, edges, 0, &g);
    MPI_Topo_test(g, &st); CHECK(st == MPI_GRAPH);
    int nn, ne; MPI_Graphdims_get(g, &nn, &ne); CHECK(nn == size && ne == 2 * size);
    int gi[64], ge[128];
    MPI_Graph_get(g, 64, 128, gi, ge);
    for (i = 0; i < size; i++) CHECK(gi[i] == index[i]);
    int cnt; MPI_Graph_neighbors_count(g, rank, &cnt); CHECK(cnt == 2);
    int gn[2]; MPI_Graph_neighbors(g, rank, 2, gn);
    CHECK(gn[0] == (rank + size - 1) % size && gn[1] == (rank + 1) % size);
    MPI_Graph_map(MPI_COMM_WORLD, size, index, edges, &nr); CHECK(nr == rank);
    int gg[2] = {-7, -7};
    MPI_Neighbor_allgather(&rank, 1, MPI_INT, gg, 1, MPI_INT, g);
    CHECK(gg[0] == gn[0] && gg[1] == gn[1]);
    if (size >= 3) {
        int gs[2] = {rank * 10, rank * 10 + 1}, gr[2] = {-7, -7};
        MPI_Neighbor_alltoall(gs, 1, MPI_INT, gr, 1, MPI_INT, g);
        CHECK(gr[0] == gn[0] * 10 + 1 && gr[1] == gn[1] * 10);
        printf("rank %d: graph alltoall %d %d\n", rank, gr[0], gr[1]);
    }
    MPI_Comm_free(&g);

    /* distributed graph, adjacent form: weighted edges to the right */
    int src = (rank + size - 1) % size, dst = (rank + 1) % size;
    int sw = src, dw = rank;
    MPI_Comm dg;
    MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 1, &src, &sw, 1, &dst, &dw, MPI_INFO_NULL, 0, &dg);
    MPI_Topo_test(dg, &st); CHECK(st == MPI_DIST_GRAPH);
    int indeg, outdeg, wtd;
    MPI_Dist_graph_neighbors_count(dg, &indeg, &outdeg, &wtd);
    CHECK(indeg == 1 && outdeg == 1 && wtd);
    int qs, qsw, qd, qdw;
    MPI_Dist_graph_neighbors(dg, 1, &qs, &qsw, 1, &qd, &qdw);
    CHECK(qs == src && qsw == src && qd == dst && qdw == rank);
    {   /* alltoallv: send rank+1 ints, receive src+1 */
        int sb[8], rb[8], sc = rank + 1, rcn = src + 1, z = 0;
        for (i = 0; i < 8; i++) { sb[i] = rank * 1000 + i; rb[i] = -7; }
        MPI_Neighbor_alltoallv(sb, &sc, &z, MPI_INT, rb, &rcn, &z, MPI_INT, dg);
        for (i = 0; i <= src; i++) CHECK(rb[i] == src * 1000 + i);
        printf("rank %d: dist alltoallv got %d ints from %d, last %d\n", rank, rcn, src, rb[src]);
        int one = 1, d2 = 2, ag[4] = {-7, -7, -7, -7};
        MPI_Neighbor_allgatherv(&rank, 1, MPI_INT, ag, &one, &d2, MPI_INT, dg);
        CHECK(ag[2] == src && ag[0] == -7);
    }
    MPI_Comm_free(&dg);

    /* distributed graph, general form: rank 0 names every edge i -> i+1 (weight i) */
    int n = rank == 0 ? size : 0;
    int srcs[64], degs[64], dsts[64], wts[64];
    for (i = 0; i < size; i++) { srcs[i] = i; degs[i] = 1; dsts[i] = (i + 1) % size; wts[i] = i; }
    MPI_Dist_graph_create(MPI_COMM_WORLD, n, srcs, degs, dsts, wts, MPI_INFO_NULL, 0, &dg);
    MPI_Dist_graph_neighbors_count(dg, &indeg, &outdeg, &wtd);
    CHECK(indeg == 1 && outdeg == 1 && wtd);
    MPI_Dist_graph_neighbors(dg, 1, &qs, &qsw, 1, &qd, &qdw);
    CHECK(qs == src && qsw == src && qd == dst && qdw == rank);
    printf("rank %d: dist graph in %d (w %d) out %d (w %d)\n", rank, qs, qsw, qd, qdw);
    {
        double sd = rank + 0.5, rd = -1;
        int one = 1; MPI_Aint zd = 0; MPI_Datatype dt = MPI_DOUBLE;
        MPI_Neighbor_alltoallw(&sd, &one, &zd, &dt, &rd, &one, &zd, &dt, dg);
        CHECK(rd == src + 0.5);
        rd = -1;
        MPI_Ineighbor_alltoall(&sd, 1, MPI_DOUBLE, &rd, 1, MPI_DOUBLE, dg, &req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
        CHECK(rd == src + 0.5);
    }
    MPI_Comm_free(&dg);

    /* errors */
    int bad[2] = {size + 1, 1};
    rc = MPI_Cart_create(MPI_COMM_WORLD, 2, bad, periods, 0, &cart);
    printf("rank %d: cart_create(too large) fails %d\n", rank, rc != MPI_SUCCESS);
    rc = MPI_Graph_neighbors_count(MPI_COMM_WORLD, 0, &cnt);
    int ec; MPI_Error_class(rc, &ec);
    printf("rank %d: graph query on no topology class %d\n", rank, ec);

    MPI_Barrier(MPI_COMM_WORLD);
    if (fails == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return fails != 0;
}
