/*
 * filterbench's entry into WAMR's AOT compiler, linked into the LLVM build of WAMR
 * (runners/engines/wamr/build.rs, feature `llvm`). WAMR compiles its compiler API with hidden
 * visibility, so the adapter reaches it through these two exported functions.
 *
 * The options are wamrc's defaults for the host (x86-64 or aarch64): LLVM opt level 3, size
 * level 3, the AOT file format, the host's CPU; software bounds checks (the runtime library is
 * built without guard pages),
 * SIMD, bulk memory and reference types (with the encodings today's wasm32 toolchains emit);
 * no call-stack frames.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <llvm-c/Support.h>

#include "aot_export.h"
#include "wasm_export.h"

#define FILTERBENCH_EXPORT __attribute__((visibility("default")))

static void set_error(char *error, uint32_t error_size, const char *stage)
{
    const char *detail = aot_get_last_error();
    snprintf(error, error_size, "%s: %s", stage,
             detail && detail[0] ? detail : "no detail from WAMR");
}

/*
 * Compiles `module` (loaded with wasm_runtime_load from Wasm bytes) to an AOT image that
 * wasm_runtime_load accepts. Returns the image (free it with filterbench_wamr_aot_free) and
 * its size in bytes in `*size`, or NULL with a message in `error`.
 */
FILTERBENCH_EXPORT uint8_t *
filterbench_wamr_aot_compile(wasm_module_t module, uint32_t *size, char *error,
                             uint32_t error_size)
{
    uint8_t *image = NULL;
    aot_comp_context_t context = NULL;
    aot_comp_data_t data = aot_create_comp_data(module, NULL, false);
    if (!data) {
        set_error(error, error_size, "preparing the module for the AOT compiler");
        return NULL;
    }
    AOTCompOption option;
    memset(&option, 0, sizeof option);
    option.opt_level = 3;
    option.size_level = 3;
    option.output_format = AOT_FORMAT_FILE;
    /* Software bounds checks: the runtime library is built without guard pages. */
    option.bounds_checks = 1;
    option.stack_bounds_checks = 1;
    option.enable_simd = true;
    option.enable_bulk_memory = true;
    option.enable_bulk_memory_opt = true;
    option.enable_ref_types = true;
    option.enable_call_indirect_overlong = true;
    option.enable_aux_stack_check = true;
    /* No stack frames (wamrc without --enable-dump-call-stack). */
    option.aux_stack_frame_type = AOT_STACK_FRAME_OFF;
    aot_call_stack_features_init_default(&option.call_stack_features);
    context = aot_create_comp_context(data, &option);
    if (!context) {
        set_error(error, error_size, "creating the AOT compiler context");
        goto done;
    }
    if (!aot_compile_wasm(context)) {
        set_error(error, error_size, "compiling");
        goto done;
    }
    image = aot_emit_aot_file_buf(context, data, size);
    if (!image)
        set_error(error, error_size, "writing the AOT image");
done:
    if (context)
        aot_destroy_comp_context(context);
    aot_destroy_comp_data(data);
    return image;
}

/*
 * Sets the LLVM options of WAMR's compiled modes; once per process (LLVM refuses a second
 * parse), before the first compilation.
 *
 * 128-bit divisions are expanded inline: with software bounds checks, WAMR computes bounds in
 * 128 bits, LLVM's loop optimisations divide them, and the default lowering calls __udivti3,
 * which WAMR's x86-64 AOT loader cannot resolve ("resolve symbol __udivti3 failed" on the waf
 * filter). The JIT gets the same option so both modes compile the same code.
 */
FILTERBENCH_EXPORT void
filterbench_wamr_llvm_options(void)
{
    const char *args[] = { "filterbench", "-expand-div-rem-bits=64" };
    LLVMParseCommandLineOptions(2, args, NULL);
}

/* Frees an image returned by filterbench_wamr_aot_compile. */
FILTERBENCH_EXPORT void
filterbench_wamr_aot_free(uint8_t *image)
{
    wasm_runtime_free(image);
}

/* WAMR's console printer in the compiler library (BH_VPRINTF): the compiler announces every
 * compilation with a banner; errors reach the caller through filterbench_wamr_aot_compile. */
int
filterbench_wamr_quiet_vprintf(const char *format, va_list ap)
{
    (void)format;
    (void)ap;
    return 0;
}
