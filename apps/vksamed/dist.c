/* dist.h: MPI when the build has it (VKSAMED_HAVE_MPI) and a launcher started us. */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "status.h"

#ifdef VKSAMED_HAVE_MPI
#include <mpi.h>
#endif

/* Launchers set these; a plain run sets none and never touches MPI (no singleton start-up). */
static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

int dist_init(dist_info *d) {
    *d = (dist_info){0, 1, 0, 1, 0};
    if (!launched_by_mpi()) return VE_OK;
#ifdef VKSAMED_HAVE_MPI
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return ve_fail("MPI_Init failed");
    d->active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    /* Errors come back as codes (and become clear messages) instead of aborting inside MPI. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return VE_OK;
#else
    return ve_fail("started by an MPI launcher, but this vksamed was built without MPI "
                   "(apt-get install libopenmpi-dev, then rebuild)");
#endif
}

int dist_allreduce_sum(float *buf, size_t n, void *ctx) {
    (void)ctx;
#ifdef VKSAMED_HAVE_MPI
    /* MPI counts are ints: large buffers go in pieces. */
    for (size_t off = 0; off < n;) {
        const size_t len = n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX;
        int rc =
            MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            char s[MPI_MAX_ERROR_STRING];
            int l = 0;
            MPI_Error_string(rc, s, &l);
            return ve_fail("MPI_Allreduce of %zu floats failed: %s (a rank died?)", len, s);
        }
        off += len;
    }
    return VE_OK;
#else
    (void)buf;
    (void)n;
    return VE_OK;
#endif
}

int dist_any(const dist_info *d, int flag) {
#ifdef VKSAMED_HAVE_MPI
    if (d->active) {
        int in = flag != 0, out = in;
        if (MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
            return 1; /* a failed collective: treat as trouble everywhere */
        return out;
    }
#endif
    (void)d;
    return flag != 0;
}

void dist_abort(const dist_info *d, int code) {
#ifdef VKSAMED_HAVE_MPI
    if (d->active && d->size > 1) {
        fprintf(stderr, "vksamed train: rank %d of %d failed: stopping every rank\n", d->rank,
                d->size);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
#endif
    (void)d;
    (void)code;
}

void dist_finalize(dist_info *d) {
#ifdef VKSAMED_HAVE_MPI
    if (d->active) MPI_Finalize();
#endif
    d->active = 0;
}

const char *dist_backend(void) {
#ifdef VKSAMED_HAVE_MPI
    static char name[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!name[0]) {
        MPI_Get_library_version(name, &len);
        for (int i = 0; i < len; i++)
            if (name[i] == ',' || name[i] == '\n') {
                name[i] = '\0';
                break;
            }
    }
    return name;
#else
    return "none (built without MPI)";
#endif
}
