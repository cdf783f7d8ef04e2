// PNG (libpng), JPEG (libjpeg-turbo) and gzip (zlib) behind plain C calls for Sources/Datasets.
//
// Why a shim: libpng and libjpeg report errors by longjmp (libjpeg's default handler even calls
// exit()), which Swift cannot catch. Every function here installs its own handler, catches the
// jump with setjmp and returns a nonzero code with a message in `error` instead.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#define DDPM_CODEC_MESSAGE_LENGTH 256

/// The largest image decoded: 2^26 pixels (8192 x 8192) and 65535 on a side. Hostile headers
/// declare any size in a few bytes; larger images are refused before their buffer is allocated.
#define DDPM_MAX_IMAGE_PIXELS ((size_t)1 << 26)
#define DDPM_MAX_IMAGE_SIDE 65535

/// A decoded image: 8-bit samples, interleaved, rows top to bottom. `channels` is 1 (grey),
/// 2 (grey + alpha), 3 (RGB) or 4 (RGBA). Free `pixels` with ddpm_codec_free.
typedef struct {
    uint8_t *pixels;
    int width;
    int height;
    int channels;
} ddpm_decoded_image;

/// Decodes a PNG held in memory. Palette images become RGB (or RGBA with transparency), grey
/// below 8 bits is expanded, 16-bit samples keep their high byte. Returns 0 on success.
int ddpm_png_decode(const uint8_t *data, size_t size, ddpm_decoded_image *out, char *error);

/// Decodes a JPEG held in memory to grey (1 channel) or RGB (3). CMYK is refused. Returns 0 on success.
int ddpm_jpeg_decode(const uint8_t *data, size_t size, ddpm_decoded_image *out, char *error);

/// Encodes 8-bit grey (channels 1) or RGB (3) pixels as a PNG in memory. Returns 0 on success;
/// free `*png` with ddpm_codec_free.
int ddpm_png_encode(const uint8_t *pixels, int width, int height, int channels,
                    uint8_t **png, size_t *size, char *error);

/// Reads a whole file through zlib's gzread: gzip files are inflated, other files pass through
/// unchanged; more than `limit` bytes is an error (a gzip bomb). Returns 0 on success; free
/// `*bytes` with ddpm_codec_free.
int ddpm_gz_read_file(const char *path, size_t limit, uint8_t **bytes, size_t *size, char *error);

void ddpm_codec_free(void *pointer);

#endif
