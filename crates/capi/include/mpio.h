/* vmpi: MPI-IO lives in mpi.h (as in MPICH 4, whose mpi.h includes mpio.h). */
#include "mpi.h"
