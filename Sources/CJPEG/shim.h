// libjpeg-turbo for Sources/CImageCodecs, found through pkg-config ("libjpeg") like Sources/CPNG.
#include <stdio.h>
#include <jpeglib.h>
