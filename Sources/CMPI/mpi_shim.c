#define _GNU_SOURCE
#include "CMPI.h"
#include <stdlib.h>
#if defined(__linux__)
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

// Open MPI handles are pointers (MPI_Comm = struct ompi_communicator_t *, and so on).
typedef void *handle;
static int (*p_init)(int *, char ***);
static int (*p_finalize)(void);
static int (*p_abort)(handle, int);
static int (*p_rank)(handle, int *);
static int (*p_size)(handle, int *);
static int (*p_allreduce)(const void *, void *, int, handle, handle, handle);
static int (*p_bcast)(void *, int, handle, int, handle);
static int (*p_barrier)(handle);
static handle comm_world, type_float, type_double, type_u64, type_byte, op_sum, in_place;
static int loaded = -1;
static char error_text[512];

int ddpm_mpi_load(void) {
    if (loaded >= 0) return loaded;
    loaded = 0;
    const char *names[] = {getenv("DDPM_LIBMPI"), "libmpi.so.40", "libmpi.so"};
    void *lib = NULL;
    for (int i = 0; i < 3 && !lib; i++) {
        // RTLD_GLOBAL: Open MPI's own plug-ins (mca_*.so) resolve libmpi's symbols globally.
        if (names[i]) lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    }
    if (!lib) {
        snprintf(error_text, sizeof error_text, "cannot load libmpi.so.40 (%s); install Open MPI: apt-get install openmpi-bin libopenmpi-dev", dlerror());
        return 0;
    }
#define SYM(var, name) if (!(*(void **)&var = dlsym(lib, name))) { \
        snprintf(error_text, sizeof error_text, "libmpi lacks %s (not Open MPI?)", name); return 0; }
    SYM(p_init, "MPI_Init") SYM(p_finalize, "MPI_Finalize") SYM(p_abort, "MPI_Abort")
    SYM(p_rank, "MPI_Comm_rank") SYM(p_size, "MPI_Comm_size") SYM(p_allreduce, "MPI_Allreduce")
    SYM(p_bcast, "MPI_Bcast") SYM(p_barrier, "MPI_Barrier")
    SYM(comm_world, "ompi_mpi_comm_world") SYM(type_float, "ompi_mpi_float") SYM(type_double, "ompi_mpi_double")
    SYM(type_u64, "ompi_mpi_uint64_t") SYM(type_byte, "ompi_mpi_byte") SYM(op_sum, "ompi_mpi_op_sum")
    in_place = (handle)1;  // Open MPI: #define MPI_IN_PLACE ((void *) 1)
    loaded = 1;
    return 1;
}

const char *ddpm_mpi_error(void) { return error_text; }

int ddpm_mpi_init(int *rank, int *size) {
    if (ddpm_mpi_load() != 1) return -1;
    int rc = p_init(NULL, NULL);
    if (rc) return rc;
    if ((rc = p_rank(comm_world, rank))) return rc;
    return p_size(comm_world, size);
}

int ddpm_mpi_finalize(void) { return loaded == 1 ? p_finalize() : -1; }
void ddpm_mpi_abort(int code) { if (loaded == 1) p_abort(comm_world, code); exit(code); }

static int allreduce(void *buffer, int64_t count, size_t element, handle type) {
    char *p = buffer;
    while (count > 0) {
        int piece = count > INT_MAX / 2 ? INT_MAX / 2 : (int)count;
        int rc = p_allreduce(in_place, p, piece, type, op_sum, comm_world);
        if (rc) return rc;
        p += (size_t)piece * element;
        count -= piece;
    }
    return 0;
}

int ddpm_mpi_allreduce_float_sum(float *b, int64_t n) { return allreduce(b, n, sizeof(float), type_float); }
int ddpm_mpi_allreduce_double_sum(double *b, int64_t n) { return allreduce(b, n, sizeof(double), type_double); }
int ddpm_mpi_allreduce_u64_sum(uint64_t *b, int64_t n) { return allreduce(b, n, sizeof(uint64_t), type_u64); }

int ddpm_mpi_broadcast(void *buffer, int64_t bytes, int root) {
    char *p = buffer;
    while (bytes > 0) {
        int piece = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;
        int rc = p_bcast(p, piece, type_byte, root, comm_world);
        if (rc) return rc;
        p += piece;
        bytes -= piece;
    }
    return 0;
}

int ddpm_mpi_barrier(void) { return p_barrier(comm_world); }
#else
int ddpm_mpi_load(void) { return 0; }
const char *ddpm_mpi_error(void) { return "MPI support is built on Linux only"; }
int ddpm_mpi_init(int *rank, int *size) { return -1; }
int ddpm_mpi_finalize(void) { return -1; }
void ddpm_mpi_abort(int code) { exit(code); }
int ddpm_mpi_allreduce_float_sum(float *b, int64_t n) { return -1; }
int ddpm_mpi_allreduce_double_sum(double *b, int64_t n) { return -1; }
int ddpm_mpi_allreduce_u64_sum(uint64_t *b, int64_t n) { return -1; }
int ddpm_mpi_broadcast(void *buffer, int64_t bytes, int root) { return -1; }
int ddpm_mpi_barrier(void) { return -1; }
#endif
