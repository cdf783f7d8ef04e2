#define _GNU_SOURCE
#include "CDNNL.h"
// Three builds: Linux with oneDNN's header (the fast path), Linux with -DDDPM_WITHOUT_ONEDNN (the
// portable im2col engine, on purpose), and macOS (Accelerate + im2col; no oneDNN). A Linux build
// that cannot see the header stops here: before, it silently compiled the stubs below, and SwiftPM
// does not recompile this file once libdnnl-dev is installed (a missing header is no dependency),
// so the binary kept the slow path for good. A failed compile leaves no object, so the next build
// after installing the header compiles the real shim.
#if !defined(__linux__) || defined(DDPM_WITHOUT_ONEDNN)
#define DDPM_DNNL_STUBS 1
#elif !__has_include(<oneapi/dnnl/dnnl.h>)
#error "oneDNN's header <oneapi/dnnl/dnnl.h> was not found, so the fast convolution path cannot be built. Install it with 'sudo apt-get install libdnnl-dev' (or run scripts/setup) and build again. To build the portable im2col-only engine on purpose, build with 'swift build -Xcc -DDDPM_WITHOUT_ONEDNN'."
#else
#include <oneapi/dnnl/dnnl_version.h>
#if DNNL_VERSION_MAJOR != 2
#error "Sources/CDNNL needs oneDNN 2.x (Debian 12's libdnnl-dev 2.6); the header found is another major version. Install libdnnl-dev 2.x, or build the portable im2col-only engine with 'swift build -Xcc -DDDPM_WITHOUT_ONEDNN'."
#endif
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- the oneDNN entry points, resolved by dlsym ----------------------------------------------
#define DNNL_FUNCTIONS(X) \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_stream_wait) X(dnnl_memory_desc_init_by_tag) \
    X(dnnl_convolution_forward_desc_init) X(dnnl_convolution_backward_data_desc_init) \
    X(dnnl_convolution_backward_weights_desc_init) X(dnnl_primitive_desc_create) \
    X(dnnl_primitive_desc_query_md) X(dnnl_primitive_desc_query) X(dnnl_primitive_desc_destroy) \
    X(dnnl_primitive_create) X(dnnl_primitive_destroy) X(dnnl_primitive_execute) X(dnnl_memory_create) \
    X(dnnl_memory_set_data_handle) X(dnnl_memory_destroy) X(dnnl_memory_desc_equal) \
    X(dnnl_memory_desc_get_size) X(dnnl_reorder_primitive_desc_create) X(dnnl_primitive_attr_create) \
    X(dnnl_primitive_attr_destroy) X(dnnl_primitive_attr_set_scratchpad_mode)

#define DECLARE(name) static __typeof__(&name) p_##name;
DNNL_FUNCTIONS(DECLARE)
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int loaded = -1;
static char failure[512];     // why the load failed, for ddpm_dnnl_load_failure
static char library[512];     // the file dlopen found
static char version[32];      // "2.6.3"
static const char *isa = "";  // dnnl_get_effective_cpu_isa, named

static int fail(const char *format, const char *detail) {
    snprintf(failure, sizeof failure, format, detail ? detail : "?");
    return 0;
}

// The name of a dnnl_cpu_isa_t (numeric, so older 2.x headers without the newer names compile).
static const char *isa_name(unsigned value) {
    switch (value) {
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0x407: return "avx2_vnni";
    case 0xf: return "avx512_mic";
    case 0x1f: return "avx512_mic_4ops";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    case 0x3e7: return "avx512_core_amx";
    default: return "";
    }
}

int ddpm_dnnl_load(int threads) {
    if (loaded >= 0) return loaded;
    loaded = 0;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);  // before libgomp loads; a user's setting wins
    void *lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return fail("libdnnl.so.2 could not be loaded (%s)", dlerror());
#define RESOLVE(name) \
    if (!(p_##name = (__typeof__(&name))dlsym(lib, #name))) \
        return fail("libdnnl.so.2 is not oneDNN 2.x (%s)", dlerror());
    DNNL_FUNCTIONS(RESOLVE)
    Dl_info info;
    if (dladdr((void *)p_dnnl_engine_create, &info) && info.dli_fname)
        snprintf(library, sizeof library, "%s", info.dli_fname);
    // Optional: a library without them still runs; the description just says less.
    const dnnl_version_t *(*get_version)(void) = (const dnnl_version_t *(*)(void))dlsym(lib, "dnnl_version");
    const dnnl_version_t *v = get_version ? get_version() : NULL;
    if (v) snprintf(version, sizeof version, "%d.%d.%d", v->major, v->minor, v->patch);
    unsigned (*get_isa)(void) = (unsigned (*)(void))dlsym(lib, "dnnl_get_effective_cpu_isa");
    if (get_isa) isa = isa_name(get_isa());
    void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (!set_threads) set_threads = (void (*)(int))dlsym(lib, "omp_set_num_threads");
    if (set_threads) set_threads(threads);
    char status[16];
    dnnl_status_t s = p_dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (s != dnnl_success) {
        snprintf(status, sizeof status, "%d", (int)s);
        return fail("oneDNN's dnnl_engine_create failed (status %s)", status);
    }
    s = p_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        snprintf(status, sizeof status, "%d", (int)s);
        return fail("oneDNN's dnnl_stream_create failed (status %s)", status);
    }
    loaded = 1;
    return 1;
}

int ddpm_dnnl_built_with_header(void) { return 1; }
const char *ddpm_dnnl_load_failure(void) { return failure; }
const char *ddpm_dnnl_library_path(void) { return library; }
const char *ddpm_dnnl_version_string(void) { return version; }
const char *ddpm_dnnl_cpu_isa(void) { return isa; }

// ---- one argument of a pass: user layout, the layout the kernel chose, and the reorder ------
typedef struct {
    int arg;                 // DNNL_ARG_*
    int is_output;           // reorder chosen -> user after the pass
    dnnl_memory_desc_t user;
    dnnl_memory_t user_memory, kernel_memory;
    dnnl_primitive_t reorder; // NULL when the layouts agree
    size_t size;              // bytes of the blocked copy, when reordered
} argument;

// Blocked copies live in one scratch buffer per argument slot, shared by every plan: calls are
// serialised by the caller, and no blocked copy outlives its call, so the process needs only
// the largest size per slot instead of one copy per plan and argument.
static void *scratch[5];
static size_t scratch_size[5];

static void *scratch_for(int slot, size_t size) {
    if (scratch_size[slot] < size) {
        free(scratch[slot]);
        scratch[slot] = aligned_alloc(64, (size + 63) / 64 * 64);
        scratch_size[slot] = scratch[slot] ? size : 0;
    }
    return scratch[slot];
}

typedef struct {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    argument args[4];
    int count;
    dnnl_memory_t scratchpad;  // user-managed, in the shared slot 4
    size_t scratchpad_size;
    const char *implementation;
} pass;

struct ddpm_dnnl_conv { pass passes[3]; };

static int bind(argument *a, int arg, int is_output, const dnnl_memory_desc_t *user, dnnl_primitive_desc_t pd,
                dnnl_query_t query, int index) {
    memset(a, 0, sizeof *a);
    a->arg = arg;
    a->is_output = is_output;
    a->user = *user;
    const dnnl_memory_desc_t *chosen = p_dnnl_primitive_desc_query_md(pd, query, index);
    if (!chosen) return -1;
    if (p_dnnl_memory_create(&a->user_memory, user, engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    if (p_dnnl_memory_desc_equal(chosen, user)) {
        a->kernel_memory = a->user_memory;
        return 0;
    }
    a->size = p_dnnl_memory_desc_get_size(chosen);
    if (p_dnnl_memory_create(&a->kernel_memory, chosen, engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *from = is_output ? chosen : user, *to = is_output ? user : chosen;
    if (p_dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL) != dnnl_success) return -1;
    dnnl_status_t s = p_dnnl_primitive_create(&a->reorder, rpd);
    p_dnnl_primitive_desc_destroy(rpd);
    return s == dnnl_success ? 0 : -1;
}

static int finish(pass *p) {
    if (p_dnnl_primitive_create(&p->primitive, p->pd) != dnnl_success) return -1;
    // Scratchpad in user mode: kernels get their temporary memory from us (shared slot 4) rather
    // than from oneDNN's global per-thread scratchpad, which is not safe when callers change threads.
    const dnnl_memory_desc_t *md = p_dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    if (md && (p->scratchpad_size = p_dnnl_memory_desc_get_size(md)) > 0
        && p_dnnl_memory_create(&p->scratchpad, md, engine, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    const char *name = NULL;
    p_dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &name);
    p->implementation = name ? name : "?";
    return 0;
}

static void release(pass *p) {
    for (int i = 0; i < p->count; i++) {
        argument *a = &p->args[i];
        if (a->reorder) p_dnnl_primitive_destroy(a->reorder);
        if (a->kernel_memory && a->kernel_memory != a->user_memory) p_dnnl_memory_destroy(a->kernel_memory);
        if (a->user_memory) p_dnnl_memory_destroy(a->user_memory);
    }
    if (p->scratchpad) p_dnnl_memory_destroy(p->scratchpad);
    if (p->primitive) p_dnnl_primitive_destroy(p->primitive);
    if (p->pd) p_dnnl_primitive_desc_destroy(p->pd);
}

void ddpm_dnnl_conv_destroy(ddpm_dnnl_conv *plan) {
    if (!plan) return;
    for (int i = 0; i < 3; i++) release(&plan->passes[i]);
    free(plan);
}

static ddpm_dnnl_conv *create(const int64_t g[12], int with_bias, dnnl_alg_kind_t algorithm) {
    int64_t n = g[0], cin = g[1], h = g[2], w = g[3], cout = g[4], kh = g[5], kw = g[6], s = g[7];
    int64_t ho = (h + g[8] + g[9] - kh) / s + 1, wo = (w + g[10] + g[11] - kw) / s + 1;
    dnnl_dims_t src_dims = {n, cin, h, w}, wei_dims = {cout, cin, kh, kw}, dst_dims = {n, cout, ho, wo};
    dnnl_dims_t bias_dims = {cout}, strides = {s, s}, pad_l = {g[8], g[10]}, pad_r = {g[9], g[11]};
    dnnl_memory_desc_t src, wei, dst, bias, any_src, any_wei, any_dst;
    p_dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, dnnl_nchw);
    p_dnnl_memory_desc_init_by_tag(&wei, 4, wei_dims, dnnl_f32, dnnl_oihw);
    p_dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_nchw);
    p_dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, dnnl_f32, dnnl_x);
    p_dnnl_memory_desc_init_by_tag(&any_src, 4, src_dims, dnnl_f32, dnnl_format_tag_any);
    p_dnnl_memory_desc_init_by_tag(&any_wei, 4, wei_dims, dnnl_f32, dnnl_format_tag_any);
    p_dnnl_memory_desc_init_by_tag(&any_dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any);

    ddpm_dnnl_conv *plan = calloc(1, sizeof *plan);
    if (!plan) return NULL;
    dnnl_primitive_attr_t attr;
    if (p_dnnl_primitive_attr_create(&attr) != dnnl_success) { free(plan); return NULL; }
    p_dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    dnnl_convolution_desc_t fd, bd, wd;
    pass *f = &plan->passes[0], *b = &plan->passes[1], *u = &plan->passes[2];
    f->count = with_bias ? 4 : 3;
    b->count = 3;
    u->count = 3;  // the bias gradient is a plain sum, done by the caller
    int ok = p_dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, algorithm, &any_src,
                                                  &any_wei, with_bias ? &bias : NULL, &any_dst, strides, pad_l,
                                                  pad_r) == dnnl_success
        && p_dnnl_primitive_desc_create(&f->pd, &fd, attr, engine, NULL) == dnnl_success
        && bind(&f->args[0], DNNL_ARG_SRC, 0, &src, f->pd, dnnl_query_src_md, 0) == 0
        && bind(&f->args[1], DNNL_ARG_WEIGHTS, 0, &wei, f->pd, dnnl_query_weights_md, 0) == 0
        && bind(&f->args[2], DNNL_ARG_DST, 1, &dst, f->pd, dnnl_query_dst_md, 0) == 0
        && (!with_bias || bind(&f->args[3], DNNL_ARG_BIAS, 0, &bias, f->pd, dnnl_query_weights_md, 1) == 0)
        && finish(f) == 0;
    ok = ok && p_dnnl_convolution_backward_data_desc_init(&bd, algorithm, &any_src, &any_wei, &any_dst,
                                                          strides, pad_l, pad_r) == dnnl_success
        && p_dnnl_primitive_desc_create(&b->pd, &bd, attr, engine, f->pd) == dnnl_success
        && bind(&b->args[0], DNNL_ARG_DIFF_DST, 0, &dst, b->pd, dnnl_query_diff_dst_md, 0) == 0
        && bind(&b->args[1], DNNL_ARG_WEIGHTS, 0, &wei, b->pd, dnnl_query_weights_md, 0) == 0
        && bind(&b->args[2], DNNL_ARG_DIFF_SRC, 1, &src, b->pd, dnnl_query_diff_src_md, 0) == 0
        && finish(b) == 0;
    ok = ok && p_dnnl_convolution_backward_weights_desc_init(&wd, algorithm, &any_src, &any_wei,
                                                             NULL, &any_dst, strides, pad_l,
                                                             pad_r) == dnnl_success
        && p_dnnl_primitive_desc_create(&u->pd, &wd, attr, engine, f->pd) == dnnl_success
        && bind(&u->args[0], DNNL_ARG_SRC, 0, &src, u->pd, dnnl_query_src_md, 0) == 0
        && bind(&u->args[1], DNNL_ARG_DIFF_DST, 0, &dst, u->pd, dnnl_query_diff_dst_md, 0) == 0
        && bind(&u->args[2], DNNL_ARG_DIFF_WEIGHTS, 1, &wei, u->pd, dnnl_query_diff_weights_md, 0) == 0
        && finish(u) == 0;
    p_dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        ddpm_dnnl_conv_destroy(plan);
        return NULL;
    }
    return plan;
}

ddpm_dnnl_conv *ddpm_dnnl_conv_create(const int64_t g[12], int with_bias, int winograd) {
    if (loaded != 1) return NULL;
    // Winograd F(4x4, 3x3) needs 2.25-4x fewer multiplications for stride-1 3x3 kernels where
    // oneDNN implements it (AVX-512); anything it cannot build falls back to direct.
    if (winograd && g[5] == 3 && g[6] == 3 && g[7] == 1) {
        ddpm_dnnl_conv *plan = create(g, with_bias, dnnl_convolution_winograd);
        if (plan) return plan;
    }
    return create(g, with_bias, dnnl_convolution_direct);
}

// Binds the user pointers, reorders inputs, runs the pass, reorders outputs back.
static int run(pass *p, void *const pointers[4]) {
    dnnl_exec_arg_t exec[5];
    for (int i = 0; i < p->count; i++) {
        argument *a = &p->args[i];
        p_dnnl_memory_set_data_handle(a->user_memory, pointers[i]);
        if (a->reorder) {
            void *blocked = scratch_for(i, a->size);
            if (!blocked) return -1;
            p_dnnl_memory_set_data_handle(a->kernel_memory, blocked);
        }
        if (a->reorder && !a->is_output) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->user_memory}, {DNNL_ARG_TO, a->kernel_memory}};
            if (p_dnnl_primitive_execute(a->reorder, stream, 2, r) != dnnl_success) return -1;
        }
        exec[i].arg = a->arg;
        exec[i].memory = a->kernel_memory;
    }
    int count = p->count;
    if (p->scratchpad) {
        void *buffer = scratch_for(4, p->scratchpad_size);
        if (!buffer) return -1;
        p_dnnl_memory_set_data_handle(p->scratchpad, buffer);
        exec[count].arg = DNNL_ARG_SCRATCHPAD;
        exec[count].memory = p->scratchpad;
        count++;
    }
    if (p_dnnl_primitive_execute(p->primitive, stream, count, exec) != dnnl_success) return -1;
    for (int i = 0; i < p->count; i++) {
        argument *a = &p->args[i];
        if (a->reorder && a->is_output) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->kernel_memory}, {DNNL_ARG_TO, a->user_memory}};
            if (p_dnnl_primitive_execute(a->reorder, stream, 2, r) != dnnl_success) return -1;
        }
    }
    return p_dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
}

int ddpm_dnnl_conv_forward(ddpm_dnnl_conv *plan, const float *x, const float *w, const float *bias, float *y) {
    void *const p[4] = {(void *)x, (void *)w, y, (void *)bias};
    return run(&plan->passes[0], p);
}

int ddpm_dnnl_conv_backward_data(ddpm_dnnl_conv *plan, const float *dy, const float *w, float *dx) {
    void *const p[4] = {(void *)dy, (void *)w, dx, NULL};
    return run(&plan->passes[1], p);
}

int ddpm_dnnl_conv_backward_weights(ddpm_dnnl_conv *plan, const float *x, const float *dy, float *dw) {
    void *const p[4] = {(void *)x, (void *)dy, dw, NULL};
    return run(&plan->passes[2], p);
}

const char *ddpm_dnnl_conv_implementation(ddpm_dnnl_conv *plan, int pass_index) {
    return plan->passes[pass_index].implementation;
}

#endif

#ifdef DDPM_DNNL_STUBS  // macOS or -DDDPM_WITHOUT_ONEDNN: every call reports "unavailable", im2col is used.
int ddpm_dnnl_load(int threads) { (void)threads; return 0; }
int ddpm_dnnl_built_with_header(void) { return 0; }
const char *ddpm_dnnl_load_failure(void) { return ""; }
const char *ddpm_dnnl_library_path(void) { return ""; }
const char *ddpm_dnnl_version_string(void) { return ""; }
const char *ddpm_dnnl_cpu_isa(void) { return ""; }
ddpm_dnnl_conv *ddpm_dnnl_conv_create(const int64_t g[12], int with_bias, int winograd) {
    (void)g; (void)with_bias; (void)winograd; return 0;
}
void ddpm_dnnl_conv_destroy(ddpm_dnnl_conv *plan) { (void)plan; }
int ddpm_dnnl_conv_forward(ddpm_dnnl_conv *p, const float *x, const float *w, const float *b, float *y) {
    (void)p; (void)x; (void)w; (void)b; (void)y; return -1;
}
int ddpm_dnnl_conv_backward_data(ddpm_dnnl_conv *p, const float *dy, const float *w, float *dx) {
    (void)p; (void)dy; (void)w; (void)dx; return -1;
}
int ddpm_dnnl_conv_backward_weights(ddpm_dnnl_conv *p, const float *x, const float *dy, float *dw) {
    (void)p; (void)x; (void)dy; (void)dw; return -1;
}
const char *ddpm_dnnl_conv_implementation(ddpm_dnnl_conv *p, int i) { (void)p; (void)i; return "none"; }
#endif
