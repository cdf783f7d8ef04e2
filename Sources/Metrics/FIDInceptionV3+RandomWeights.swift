import Tensors

extension FIDInceptionV3 {
    /// He-initialised weights in the FID Inception layout, seeded: a stand-in where the published
    /// pytorch-fid weights are not available (benchmarks time the same network; tests compare two
    /// ways of computing one score). Scores made with them are not FIDs anyone can compare with.
    public static func heInitialisedWeights(seed: UInt64) -> [String: Tensor] {
        var rng = SeededGenerator(seed: seed)
        var state: [String: Tensor] = [:]
        for (key, parameter) in FIDInceptionV3().namedParameters() {
            let shape = parameter.shape
            let fanIn = shape.dropFirst().reduce(1, *)
            if key.hasSuffix("running_var") || key.hasSuffix("bn.weight") {
                state[key] = .ones(shape)
            } else if key.hasSuffix("bias") || key.hasSuffix("running_mean") {
                state[key] = .zeros(shape)
            } else {
                state[key] = Tensor.randomNormal(shape, standardDeviation: Float((2.0 / Double(fanIn)).squareRoot()), using: &rng)
            }
        }
        return state
    }
}
