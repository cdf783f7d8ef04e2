// See include/CImageCodecs.h for why this file exists.
#include "CImageCodecs.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>
#include <zlib.h>

void ddpm_codec_free(void *pointer) { free(pointer); }

static void set_message(char *error, const char *message) {
    if (error) snprintf(error, DDPM_CODEC_MESSAGE_LENGTH, "%s", message);
}

// MARK: - PNG

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *error;
} png_source;

static void png_error_handler(png_structp png, png_const_charp message) {
    png_source *source = (png_source *)png_get_error_ptr(png);
    set_message(source->error, message);
    png_longjmp(png, 1);
}

static void png_warning_handler(png_structp png, png_const_charp message) { (void)png; (void)message; }

static void png_read_memory(png_structp png, png_bytep out, png_size_t count) {
    png_source *source = (png_source *)png_get_io_ptr(png);
    if (source->size - source->offset < count) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

int ddpm_png_decode(const uint8_t *data, size_t size, ddpm_decoded_image *out, char *error) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_message(error, "not a PNG file (bad signature)");
        return 1;
    }
    png_source source = {data, size, 0, error};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_error_handler, png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_message(error, "out of memory");
        return 1;
    }
    // Declared volatile: they change between setjmp and a possible longjmp.
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_set_read_fn(png, &source, png_read_memory);
    png_read_info(png, info);
    png_set_expand(png);      // palette -> RGB, grey < 8 bits -> 8 bits, tRNS -> alpha
    png_set_strip_16(png);    // 16 -> 8 bits: keep the high byte
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 declared_width = png_get_image_width(png, info), declared_height = png_get_image_height(png, info);
    if (declared_width > DDPM_MAX_IMAGE_SIDE || declared_height > DDPM_MAX_IMAGE_SIDE
        || (size_t)declared_width * (size_t)declared_height > DDPM_MAX_IMAGE_PIXELS) {
        snprintf(error, DDPM_CODEC_MESSAGE_LENGTH, "%ux%u pixels is more than the supported %zu", (unsigned)declared_width,
                 (unsigned)declared_height, DDPM_MAX_IMAGE_PIXELS);
        png_longjmp(png, 1);
    }
    int width = (int)declared_width, height = (int)declared_height;
    int channels = png_get_channels(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)width * (size_t)channels) png_error(png, "unexpected row layout after expansion");
    pixels = malloc(stride * (size_t)height);
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (int y = 0; y < height; y++) rows[y] = pixels + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->pixels = pixels;
    out->width = width;
    out->height = height;
    out->channels = channels;
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    char *error;
} png_sink;

static void png_write_memory(png_structp png, png_bytep in, png_size_t count) {
    png_sink *sink = (png_sink *)png_get_io_ptr(png);
    if (sink->size + count > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 4096;
        while (capacity < sink->size + count) capacity *= 2;
        uint8_t *grown = realloc(sink->data, capacity);
        if (!grown) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, in, count);
    sink->size += count;
}

static void png_flush_memory(png_structp png) { (void)png; }

static void png_sink_error_handler(png_structp png, png_const_charp message) {
    png_sink *sink = (png_sink *)png_get_error_ptr(png);
    set_message(sink->error, message);
    png_longjmp(png, 1);
}

int ddpm_png_encode(const uint8_t *pixels, int width, int height, int channels,
                    uint8_t **png_out, size_t *size, char *error) {
    *png_out = NULL;
    *size = 0;
    if ((channels != 1 && channels != 3) || width <= 0 || height <= 0) {
        set_message(error, "PNG output needs 1 or 3 channels and a positive size");
        return 1;
    }
    png_sink sink = {NULL, 0, 0, error};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_sink_error_handler, png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        set_message(error, "out of memory");
        return 1;
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(sink.data);
        png_destroy_write_struct(&png, &info);
        return 1;
    }
    png_set_write_fn(png, &sink, png_write_memory, png_flush_memory);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (!rows) png_error(png, "out of memory");
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * (size_t)width * (size_t)channels;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    *png_out = sink.data;
    *size = sink.size;
    return 0;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *error;
    int truncated;
} jpeg_error_handler;

// Replaces libjpeg's default error_exit, which would print and call exit().
static void jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_error_handler *handler = (jpeg_error_handler *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    set_message(handler->error, message);
    longjmp(handler->jump, 1);
}

static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

// Warnings are silent, except that a stream cut short is remembered: libjpeg pads the missing
// rows with grey and carries on, which would feed a half-grey image to training.
static void jpeg_emit_message(j_common_ptr cinfo, int level) {
    jpeg_error_handler *handler = (jpeg_error_handler *)cinfo->err;
    if (level < 0) {
        int code = cinfo->err->msg_code;
        if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) {
            if (!handler->truncated) {
                char message[JMSG_LENGTH_MAX];
                (*cinfo->err->format_message)(cinfo, message);
                set_message(handler->error, message);
            }
            handler->truncated = 1;
        }
        cinfo->err->num_warnings++;
    }
}

int ddpm_jpeg_decode(const uint8_t *data, size_t size, ddpm_decoded_image *out, char *error) {
    memset(out, 0, sizeof *out);
    struct jpeg_decompress_struct cinfo;
    jpeg_error_handler handler;
    cinfo.err = jpeg_std_error(&handler.base);
    handler.base.error_exit = jpeg_error_exit;
    handler.base.output_message = jpeg_silent;
    handler.base.emit_message = jpeg_emit_message;
    handler.error = error;
    handler.truncated = 0;
    uint8_t *volatile pixels = NULL;
    if (setjmp(handler.jump)) {
        free(pixels);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        set_message(error, "CMYK JPEG is not supported; convert it to RGB");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    if (cinfo.image_width > DDPM_MAX_IMAGE_SIDE || cinfo.image_height > DDPM_MAX_IMAGE_SIDE
        || (size_t)cinfo.image_width * (size_t)cinfo.image_height > DDPM_MAX_IMAGE_PIXELS) {
        snprintf(error, DDPM_CODEC_MESSAGE_LENGTH, "%ux%u pixels is more than the supported %zu", (unsigned)cinfo.image_width,
                 (unsigned)cinfo.image_height, DDPM_MAX_IMAGE_PIXELS);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int width = (int)cinfo.output_width, height = (int)cinfo.output_height, channels = cinfo.output_components;
    size_t stride = (size_t)width * (size_t)channels;
    pixels = malloc(stride * (size_t)height);
    if (!pixels) {
        set_message(error, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (handler.truncated) {
        free(pixels);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->pixels = pixels;
    out->width = width;
    out->height = height;
    out->channels = channels;
    return 0;
}

// MARK: - gzip

int ddpm_gz_read_file(const char *path, size_t limit, uint8_t **bytes, size_t *size, char *error) {
    *bytes = NULL;
    *size = 0;
    gzFile file = gzopen(path, "rb");
    if (!file) {
        set_message(error, errno ? strerror(errno) : "cannot open");
        return 1;
    }
    size_t capacity = 1 << 20, length = 0;
    uint8_t *buffer = malloc(capacity);
    for (;;) {
        if (!buffer) {
            set_message(error, "out of memory");
            gzclose(file);
            return 1;
        }
        if (length == capacity) {
            capacity *= 2;
            uint8_t *grown = realloc(buffer, capacity);
            if (!grown) free(buffer);
            buffer = grown;
            continue;
        }
        size_t want = capacity - length;
        if (want > (1u << 30)) want = 1u << 30;
        int got = gzread(file, buffer + length, (unsigned)want);
        if (got < 0) {
            int code = 0;
            const char *message = gzerror(file, &code);
            set_message(error, message);
            free(buffer);
            gzclose(file);
            return 1;
        }
        if (got == 0) break;
        length += (size_t)got;
        if (length > limit) {
            snprintf(error, DDPM_CODEC_MESSAGE_LENGTH, "it inflates to more than the %zu-byte limit (a gzip bomb or not a dataset file)", limit);
            free(buffer);
            gzclose(file);
            return 1;
        }
    }
    int code = 0;
    const char *message = gzerror(file, &code);
    if (code != Z_OK) {  // Z_BUF_ERROR here means a gzip stream cut short
        set_message(error, message);
        free(buffer);
        gzclose(file);
        return 1;
    }
    gzclose(file);
    *bytes = buffer;
    *size = length;
    return 0;
}
