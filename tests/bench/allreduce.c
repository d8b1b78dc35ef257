/* allreduce.c: MPI_Allreduce time for nntrain's gradient buffers (the flat
 * parameter count + 4 metrics), measured on this machine. A benchmark, so it
 * talks to MPI directly; the library itself only does so in src/dist.
 * Usage: mpirun -np N allreduce FLOATS... */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int a = 1; a < argc; a++) {
        int n = atoi(argv[a]);
        float *buf = malloc((size_t)n * sizeof *buf);
        if (!buf) MPI_Abort(MPI_COMM_WORLD, 1);
        for (int i = 0; i < n; i++) buf[i] = 1e-3f * (float)(i % 100);
        for (int w = 0; w < 10; w++)
            MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        int reps = 300;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int r = 0; r < reps; r++)
            MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = (MPI_Wtime() - t0) / reps;
        if (rank == 0)
            printf("allreduce np=%d floats=%d bytes=%d time_ms=%.4f\n", size, n, n * 4, t * 1e3);
        free(buf);
    }
    MPI_Finalize();
    return 0;
}
