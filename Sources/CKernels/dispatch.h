// How each kernel gets one build per vector ISA (private to CKernels).
//
// A kernel is written once, as an always-inline `name##_body`; DDPM_DISPATCH wraps it in three
// functions compiled with different target attributes and a public `name` that calls the one
// ddpm_kernel_isa() picked. `target_clones` would do the same through an ifunc, but it cannot
// ask for AVX2 and FMA in one clone (a comma there starts a new clone), and ifuncs exist only
// with glibc on ELF. On other architectures there is one build, at the compiler's baseline.
//
// Floating-point contraction is off: a·b + c stays two roundings, as Swift computes it, except
// where DDPM_MULTIPLY_ADD asks for a fused multiply-add (an FMA where the ISA has one, else a
// multiply and an add). The AVX2 and AVX-512 builds therefore give the same bits.
#ifndef CKERNELS_DISPATCH_H
#define CKERNELS_DISPATCH_H
#include "CKernels.h"

#pragma clang fp contract(off)

#define DDPM_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#define DDPM_X86_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define DDPM_X86_AVX2 __attribute__((target("avx2,fma")))
#define DDPM_DISPATCH(ret, name, params, args)                                \
    DDPM_X86_AVX512 static ret name##_avx512 params { return name##_body args; } \
    DDPM_X86_AVX2 static ret name##_avx2 params { return name##_body args; }     \
    static ret name##_baseline params { return name##_body args; }              \
    ret name params {                                                          \
        switch (ddpm_kernel_isa()) {                                           \
        case 2: return name##_avx512 args;                                     \
        case 1: return name##_avx2 args;                                       \
        default: return name##_baseline args;                                  \
        }                                                                      \
    }
#define DDPM_DISPATCH_VOID(name, params, args)                              \
    DDPM_X86_AVX512 static void name##_avx512 params { name##_body args; }      \
    DDPM_X86_AVX2 static void name##_avx2 params { name##_body args; }          \
    static void name##_baseline params { name##_body args; }                   \
    void name params {                                                         \
        switch (ddpm_kernel_isa()) {                                           \
        case 2: name##_avx512 args; break;                                     \
        case 1: name##_avx2 args; break;                                       \
        default: name##_baseline args; break;                                  \
        }                                                                      \
    }
#else
#define DDPM_DISPATCH(ret, name, params, args) ret name params { return name##_body args; }
#define DDPM_DISPATCH_VOID(name, params, args) void name params { name##_body args; }
#endif

#endif
