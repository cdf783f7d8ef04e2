/// Resizing with a triangle ("bilinear") filter that widens when shrinking, so downscaling
/// averages every source pixel instead of skipping some (aliasing). This is the filter PIL's
/// `Image.resize(..., BILINEAR)` uses, which torchvision's `Resize` applies to PIL images in the
/// diffusers and lucidrains training scripts; results agree with Pillow to within rounding.
extension RasterImage {
    /// Resizes so the shorter side is `size` (aspect ratio kept, longer side truncated as
    /// torchvision does), then crops the centre `size` x `size`.
    public func resizedAndCentreCropped(to size: Int) -> RasterImage {
        precondition(size > 0, "[resizedAndCentreCropped] size must be positive, got \(size)")
        let (fullWidth, fullHeight): (Int, Int)
        if width <= height {
            (fullWidth, fullHeight) = (size, size * height / width)
        } else {
            (fullWidth, fullHeight) = (size * width / height, size)
        }
        // torchvision's CenterCrop: offset = round((full - size) / 2), with Python's half-to-even.
        let left = Int((Double(fullWidth - size) / 2).rounded(.toNearestOrEven))
        let top = Int((Double(fullHeight - size) / 2).rounded(.toNearestOrEven))
        return resampled(fullWidth: fullWidth, fullHeight: fullHeight, left: left, top: top, width: size, height: size)
    }

    /// Resizes to exactly `width` x `height` (no crop).
    public func resized(width newWidth: Int, height newHeight: Int) -> RasterImage {
        resampled(fullWidth: newWidth, fullHeight: newHeight, left: 0, top: 0, width: newWidth, height: newHeight)
    }

    /// The window (left, top, width, height) of this image resized to fullWidth x fullHeight.
    /// Only the window's pixels are computed.
    func resampled(fullWidth: Int, fullHeight: Int, left: Int, top: Int, width outWidth: Int, height outHeight: Int) -> RasterImage {
        if fullWidth == width, fullHeight == height, left == 0, top == 0, outWidth == width, outHeight == height { return self }
        let c = channels
        let columns = FilterTaps(inputSize: width, outputSize: fullWidth, first: left, count: outWidth)
        let rows = FilterTaps(inputSize: height, outputSize: fullHeight, first: top, count: outHeight)
        // Horizontal pass over every source row, then vertical pass; Float in between so the
        // result is rounded once.
        var horizontal = [Float](repeating: 0, count: height * outWidth * c)
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
        pixels.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { mid in
                for y in 0..<height {
                    for x in 0..<outWidth {
                        let (start, weights) = columns.taps[x]
                        for ch in 0..<c {
                            var sum: Float = 0
                            for (k, w) in weights.enumerated() { sum += w * Float(src[(y * width + start + k) * c + ch]) }
                            mid[(y * outWidth + x) * c + ch] = sum
                        }
                    }
                }
                out.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<outHeight {
                        let (start, weights) = rows.taps[y]
                        for i in 0..<(outWidth * c) {
                            var sum: Float = 0
                            for (k, w) in weights.enumerated() { sum += w * mid[(start + k) * outWidth * c + i] }
                            dst[y * outWidth * c + i] = clampedByte(sum)
                        }
                    }
                }
            }
        }
        return RasterImage(width: outWidth, height: outHeight, channels: c, pixels: out)
    }
}

/// For each output index, the first source index and the normalised weights of the source
/// pixels it averages.
private struct FilterTaps {
    var taps: [(Int, [Float])] = []

    init(inputSize: Int, outputSize: Int, first: Int, count: Int) {
        let scale = Double(inputSize) / Double(outputSize)
        // Shrinking by s widens the triangle by s, so each output pixel covers its source area.
        let filterScale = max(scale, 1)
        let support = filterScale
        for i in first..<(first + count) {
            let centre = (Double(i) + 0.5) * scale
            let low = max(Int((centre - support + 0.5).rounded(.down)), 0)
            let high = min(Int((centre + support + 0.5).rounded(.down)), inputSize)
            var weights = (low..<high).map { j -> Double in
                let distance = abs((Double(j) + 0.5 - centre) / filterScale)
                return max(0, 1 - distance)
            }
            let total = weights.reduce(0, +)
            if total > 0 { weights = weights.map { $0 / total } }
            taps.append((low, weights.map { Float($0) }))
        }
    }
}
