// C++ through mpicxx: the header works in C++, and a ring of messages.
#include <mpi.h>
#include <cstdio>
#include <vector>
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    std::vector<double> out(16, rank + 0.5), in(16, 0.0);
    MPI_Status st;
    MPI_Sendrecv(out.data(), 16, MPI_DOUBLE, (rank + 1) % size, 7, in.data(), 16, MPI_DOUBLE,
                 (rank + size - 1) % size, 7, MPI_COMM_WORLD, &st);
    int prev = (rank + size - 1) % size;
    bool ok = in[15] == prev + 0.5 && st.MPI_SOURCE == prev;
    std::printf("rank %d of %d: %s\n", rank, size, ok ? "PASS" : "FAIL");
    MPI_Finalize();
    return ok ? 0 : 1;
}
