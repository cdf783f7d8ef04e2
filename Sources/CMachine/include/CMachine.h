// Facts about the machine that Swift cannot measure well itself.
#ifndef CMACHINE_H
#define CMACHINE_H
/// FMA throughput of one thread in GFLOP/s: the best of 256-bit (AVX2) and, where the CPU has it,
/// 512-bit (AVX-512F) FMA with enough independent chains to hide the latency. Written in C with
/// target attributes because Swift cannot emit 512-bit vectors or choose the ISA per function.
double ddpm_fma_peak_gflops(long iterations);

/// The cores this process may run on (sched_getaffinity: what `mpirun` bound it to), or 0 where
/// unknown. Foundation's activeProcessorCount ignores the affinity mask.
int ddpm_affinity_cores(void);
#endif
