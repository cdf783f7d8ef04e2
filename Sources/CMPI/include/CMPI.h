// A thin C layer over Open MPI, loaded at run time with dlopen.
//
// Why C: mpi.h defines its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) as macros, which Swift
// cannot import. Why dlopen, as Sources/CDNNL does
// for oneDNN: a binary built on a machine with Open MPI must still build and run as a single
// process on one without it (no libmpi.so.40, no mpirun). In Open MPI's ABI every handle is the
// address of an exported global (MPI_COMM_WORLD is &ompi_mpi_comm_world), so dlsym resolves the
// macros too and no header is needed at build time. Every call returns 0 on success.
#ifndef CMPI_H
#define CMPI_H
#include <stddef.h>
#include <stdint.h>

/// Loads libmpi (DDPM_LIBMPI, else libmpi.so.40, else libmpi.so). 1 when usable, 0 otherwise;
/// `ddpm_mpi_error()` then says why. Never aborts.
int ddpm_mpi_load(void);
const char *ddpm_mpi_error(void);

/// MPI_Init on MPI_COMM_WORLD; returns this process's rank and the world size.
int ddpm_mpi_init(int *rank, int *size);
int ddpm_mpi_finalize(void);
/// MPI_Abort: ends every rank of the job with `code` (for a rank that cannot go on alone).
void ddpm_mpi_abort(int code);

/// In-place MPI_Allreduce with MPI_SUM (count may exceed INT_MAX: it is sent in pieces).
int ddpm_mpi_allreduce_float_sum(float *buffer, int64_t count);
int ddpm_mpi_allreduce_double_sum(double *buffer, int64_t count);
int ddpm_mpi_allreduce_u64_sum(uint64_t *buffer, int64_t count);
int ddpm_mpi_broadcast(void *buffer, int64_t bytes, int root);
int ddpm_mpi_barrier(void);
#endif
