#include "dispatch.h"
#include <stdlib.h>
#include <string.h>

static int cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();  // libgcc/compiler-rt also check that the OS saves the wide registers
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

static int requested_cap(void) {
    const char *cap = getenv("DDPM_KERNEL_ISA");
    if (cap == NULL) return 2;
    if (strcmp(cap, "baseline") == 0) return 0;
    if (strcmp(cap, "avx2") == 0) return 1;
    return 2;
}

// -1: not chosen yet. Threads racing on the first call compute the same value.
static int chosen = -1;
// A test's choice for its own thread only, so tests running beside it keep the CPU's variant.
static _Thread_local int thread_override = -1;

int ddpm_kernel_isa(void) {
    if (thread_override >= 0) return thread_override;
    int level = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (level < 0) {
        int cap = requested_cap(), cpu = cpu_level();
        level = cap < cpu ? cap : cpu;
        __atomic_store_n(&chosen, level, __ATOMIC_RELAXED);
    }
    return level;
}

void ddpm_kernel_isa_override(int level) {
    int cpu = cpu_level();
    thread_override = level < 0 ? -1 : level < cpu ? level : cpu;
}
