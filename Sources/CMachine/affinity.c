#define _GNU_SOURCE
#include "CMachine.h"
#if defined(__linux__)
#include <sched.h>

int ddpm_affinity_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
#else
int ddpm_affinity_cores(void) { return 0; }
#endif
