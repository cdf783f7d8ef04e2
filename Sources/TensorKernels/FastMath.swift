/// A polynomial `exp` that vectorises (libm `expf` in a loop is ~5x slower; backend.md §3).
///
/// Range reduction x = n·ln2 + r with |r| ≤ ln2/2, degree-6 Taylor polynomial for e^r, then 2^n
/// built in the exponent bits. Max relative error about 2e-7 on [-87, 88]; inputs are clamped there.
@inlinable @inline(__always)
package func fastExp(_ x: Float) -> Float {
    let magic: Float = 12_582_912  // 1.5 · 2^23: adding it rounds to an integer held in the low bits
    let xc = min(max(x, -87.0), 88.0)
    let t = xc * 1.442_695_04 + magic
    let n = t - magic
    let r = (xc - n * 0.693_145_75) - n * 1.428_606_8e-6
    var p: Float = 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let scale = Float(bitPattern: UInt32(bitPattern: (Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: magic.bitPattern) &+ 127) &<< 23))
    return p * scale
}

@inlinable @inline(__always)
package func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
