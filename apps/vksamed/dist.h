/* Data-parallel training across processes with MPI (Open MPI from Debian): used when vksamed
 * runs under mpirun (or another launcher that sets OMPI_COMM_WORLD_SIZE, PMIX_RANK or
 * PMI_SIZE); otherwise, and in builds without MPI, one process and no MPI call at all. */
#ifndef VKSAMED_DIST_H
#define VKSAMED_DIST_H

#include <stddef.h>

typedef struct {
    int rank, size; /* this process and how many */
    int local_rank; /* among the processes on this machine (picks the Vulkan device) */
    int local_size;
    int active; /* MPI initialised */
} dist_info;

/* Initialises MPI when launched by an MPI launcher; fills d either way. */
int dist_init(dist_info *d);
/* Sums n floats over every rank, in place (sam_train_opts.allreduce). */
int dist_allreduce_sum(float *buf, size_t n, void *ctx);
/* 1 when flag is non-zero on any rank (collective: every rank must call it). */
int dist_any(const dist_info *d, int flag);
/* Ends every rank of the job after this one failed (its message printed first), so the others
 * do not wait forever in a collective. Does not return when MPI is active. */
void dist_abort(const dist_info *d, int code);
void dist_finalize(dist_info *d);
/* "mpi (Open MPI x.y)" or "none": what this build has. */
const char *dist_backend(void);

#endif
