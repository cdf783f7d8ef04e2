// libpng for Sources/CImageCodecs. A system-library target so that SwiftPM asks pkg-config
// ("libpng") for its include and library paths: Homebrew keeps them outside the compiler's defaults.
#include <png.h>
