import CKernels

// Maps built on the polynomial exp (max relative error ~2e-7 on [-87, 88]; libm's expf in a loop
// is ~5x slower). The loops are C (Sources/CKernels): they vectorise only with wide registers,
// which a portable Swift build does not have, so each runs its ISA's build; threads split here.
extension Kernels {
    /// y = eˣ over `count` floats.
    package static func mapExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, grain: parallelGrain) { r in ddpm_exp(x + r.lowerBound, y + r.lowerBound, r.count) }
    }

    /// y = σ(x) = 1 / (1 + e⁻ˣ) over `count` floats.
    package static func mapSigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, grain: parallelGrain) { r in ddpm_sigmoid(x + r.lowerBound, y + r.lowerBound, r.count) }
    }

    /// y = x·σ(x) over `count` floats.
    package static func mapSiLU(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, grain: parallelGrain) { r in ddpm_silu(x + r.lowerBound, y + r.lowerBound, r.count) }
    }

    /// dx = g·σ(x)·(1 + x·(1 − σ(x))), the SiLU pullback, over `count` floats.
    package static func siluPullback(
        _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        parallelFor(count, grain: parallelGrain) { r in
            ddpm_silu_backward(g + r.lowerBound, x + r.lowerBound, dx + r.lowerBound, r.count)
        }
    }

    /// The vector ISA the C kernels run here ("AVX-512F", "AVX2+FMA" or "baseline"), for reports.
    package static var vectorISA: String {
        switch ddpm_kernel_isa() {
        case 2: "AVX-512F"
        case 1: "AVX2+FMA"
        default: "baseline"
        }
    }
}
