/* Parallel HDF5 over vmpi (Debian's libhdf5-mpich, built for MPICH, loading our
 * libmpich.so.12): a 2-D dataset of doubles, each rank a block of rows written
 * with a collective hyperslab transfer and an independent one, an attribute,
 * read back by every rank (the whole dataset) and checked. argv[1]: the
 * directory. Every rank prints "rank R of N: PASS". */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define ROWS 37
#define COLS 53

int main(int argc, char **argv) {
    int rank, size, fails = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char path[4096];
    snprintf(path, sizeof path, "%s/h5.h5", argc > 1 ? argv[1] : "/tmp");
    for (int mode = 0; mode < 2; mode++) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (f < 0) { printf("rank %d: H5Fcreate failed\n", rank); fails++; break; }
        hsize_t dims[2] = {(hsize_t)ROWS * size, COLS};
        hid_t space = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(f, "grid", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        double *mine = malloc(sizeof(double) * ROWS * COLS);
        for (int i = 0; i < ROWS; i++)
            for (int j = 0; j < COLS; j++) mine[i * COLS + j] = (rank * ROWS + i) * 1000.0 + j;
        hsize_t start[2] = {(hsize_t)rank * ROWS, 0}, count[2] = {ROWS, COLS};
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
        hid_t mem = H5Screate_simple(2, count, NULL);
        hid_t dx = H5Pcreate(H5P_DATASET_XFER);
        H5Pset_dxpl_mpio(dx, mode == 0 ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
        if (H5Dwrite(ds, H5T_NATIVE_DOUBLE, mem, space, dx, mine) < 0) { printf("rank %d: H5Dwrite failed\n", rank); fails++; }
        int n = size;
        hid_t as = H5Screate(H5S_SCALAR);
        hid_t at = H5Acreate2(ds, "ranks", H5T_NATIVE_INT, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, H5T_NATIVE_INT, &n);
        H5Aclose(at); H5Sclose(as);
        H5Pclose(dx); H5Sclose(mem); H5Sclose(space); H5Dclose(ds); H5Fclose(f);
        /* reopen, every rank reads everything */
        f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
        ds = H5Dopen2(f, "grid", H5P_DEFAULT);
        double *all = malloc(sizeof(double) * ROWS * size * COLS);
        dx = H5Pcreate(H5P_DATASET_XFER);
        H5Pset_dxpl_mpio(dx, H5FD_MPIO_COLLECTIVE);
        if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, dx, all) < 0) { printf("rank %d: H5Dread failed\n", rank); fails++; }
        int bad = 0;
        for (int i = 0; i < ROWS * size; i++)
            for (int j = 0; j < COLS; j++) bad += all[i * COLS + j] != i * 1000.0 + j;
        if (bad) { printf("rank %d: mode %d: %d values wrong\n", rank, mode, bad); fails++; }
        at = H5Aopen(ds, "ranks", H5P_DEFAULT);
        n = 0;
        H5Aread(at, H5T_NATIVE_INT, &n);
        if (n != size) { printf("rank %d: attribute %d\n", rank, n); fails++; }
        H5Aclose(at); H5Pclose(dx); H5Dclose(ds); H5Fclose(f); H5Pclose(fapl);
        free(mine); free(all);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) MPI_File_delete(path, MPI_INFO_NULL);
    int total;
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (total == 0) printf("rank %d of %d: PASS\n", rank, size);
    MPI_Finalize();
    return total != 0;
}
