import Diffusion
import Models
import Tensors

/// Which class each image of a batch is drawn from, and how strongly: classifier-free guidance
/// (Ho & Salimans 2022) in diffusers' form,
///
///     ε̂ = ε̂(x_t, ∅) + w · (ε̂(x_t, c) − ε̂(x_t, ∅)),
///
/// so w = 1 is plain conditional sampling, w = 0 unconditional (the null label), and w > 1
/// trades diversity for fidelity to c. (The paper writes (1 + w')·ε̂_c − w'·ε̂_∅, i.e. w = 1 + w'.)
public struct ClassConditioning: Equatable, Sendable {
    /// One class label per image, 0..<classCount.
    public var labels: [Int]
    /// w; finite.
    public var guidanceScale: Double

    public init(labels: [Int], guidanceScale: Double = 1) {
        (self.labels, self.guidanceScale) = (labels, guidanceScale)
    }

    /// Checks the request against `configuration` before any network runs: the model must take
    /// labels, each must be a class, and w ≠ 1 needs the null label (a model trained with class
    /// dropout), since ε̂_∅ is what guidance extrapolates from.
    public func validate(for configuration: UNetConfiguration) throws(PipelineError) {
        guard configuration.isClassConditional else {
            throw .classCondition(
                "this model is unconditional (its config.json has no num_class_embeds or class_embed_type), so it takes no class and no guidance scale; drop --class and --guidance-scale, or use a model trained with --conditional"
            )
        }
        guard configuration.takesClassLabels else {
            throw .classCondition("this model's class_embed_type is 'identity': it is conditioned on embedding vectors, not class labels")
        }
        guard guidanceScale.isFinite else { throw .classCondition("the guidance scale must be a finite number, got \(guidanceScale)") }
        if let count = configuration.classCount, let bad = labels.first(where: { !(0..<count).contains($0) }) {
            throw .classCondition(
                "class index \(bad) is out of range; this model has classes 0 to \(count - 1)\(configuration.classNameList)")
        }
        if let bad = labels.first(where: { $0 < 0 }) { throw .classCondition("class index \(bad) is negative") }
        if guidanceScale != 1, configuration.nullClassLabel == nil {
            throw .classCondition(
                "guidance scale \(guidanceScale) needs the unconditional prediction, but this model has no null label (null_class_label in config.json: it was not trained with class dropout); use guidance scale 1"
            )
        }
    }
}

extension UNetConfiguration {
    /// ": 0 t-shirt, 1 trouser, …" for messages, or "" when the classes have no names.
    var classNameList: String {
        guard let names = classNames else { return "" }
        return ": " + names.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", ")
    }

    /// The label a user's `text` means: a class name from `class_names` (exact, then
    /// case-insensitive), else a decimal index. A name wins over an index, so folders named "0"…"9"
    /// mean what they say even though their sorted order need not be numeric.
    public func classLabel(_ text: String) throws(PipelineError) -> Int {
        guard isClassConditional else {
            throw .classCondition(
                "this model is unconditional, so it takes no class (asked for '\(text)'); use a model trained with --conditional")
        }
        let names = classNames ?? []
        if let i = names.firstIndex(of: text) ?? names.firstIndex(where: { $0.lowercased() == text.lowercased() }) { return i }
        guard let index = Int(text) else {
            throw .classCondition(
                names.isEmpty
                    ? "unknown class '\(text)': this model's classes have no names, so give an index 0 to \((classCount ?? 1) - 1)"
                    : "unknown class '\(text)'; the known classes are \(names.map { "'\($0)'" }.joined(separator: ", ")) (or their indices 0 to \(names.count - 1))"
            )
        }
        if let count = classCount, !(0..<count).contains(index) {
            throw .classCondition("class index \(index) is out of range; this model has classes 0 to \(count - 1)\(classNameList)")
        }
        guard index >= 0 else { throw .classCondition("class index \(index) is negative") }
        return index
    }

    /// The name of label `i` ("class 3" when unnamed).
    public func className(_ i: Int) -> String {
        if let names = classNames, names.indices.contains(i) { return names[i] }
        return "class \(i)"
    }
}

extension UNet {
    /// ε̂ guided towards `classes.labels` (see `ClassConditioning`): for w ≠ 0, 1 the conditional
    /// and the null-label halves run as one batched network call of 2N images; w = 1 needs only
    /// the conditional half and w = 0 only the null one, so those make one call of N. Output
    /// channels past the image's (a learned variance, Nichol & Dhariwal 2021) are the conditional
    /// half's, as diffusers' DiT pipeline keeps them. Call `classes.validate(for:)` first.
    public func noisePredictor(classes: ClassConditioning, onCall: @escaping () -> Void = {}) -> NoisePredictor {
        let w = classes.guidanceScale
        let labels = classes.labels
        let null = configuration.nullClassLabel ?? -1
        let noiseChannels = configuration.inChannels
        var unused = SeededGenerator(seed: 0)  // dropout is off, so no random draws happen
        return { xt, t in
            defer { onCall() }
            precondition(xt.shape[0] == labels.count, "[guidance] \(labels.count) class labels for a batch of \(xt.shape[0])")
            return withoutGradients {
                if w == 1 { return self(xt, timesteps: t, classLabels: labels, training: false, rng: &unused) }
                let nulls = Array(repeating: null, count: labels.count)
                if w == 0 { return self(xt, timesteps: t, classLabels: nulls, training: false, rng: &unused) }
                let both = self(
                    Tensor.concatenated([xt, xt], alongAxis: 0), timesteps: t + t, classLabels: labels + nulls,
                    training: false, rng: &unused)
                let n = xt.shape[0]
                return guided(
                    conditional: both.sliced(alongAxis: 0, 0..<n), unconditional: both.sliced(alongAxis: 0, n..<2 * n),
                    scale: Float(w), noiseChannels: noiseChannels)
            }
        }
    }
}

/// ε̂_∅ + w(ε̂_c − ε̂_∅) on the first `noiseChannels` channels of `[N, C, H, W]` outputs; the
/// remaining channels are the conditional output's.
public func guided(conditional c: Tensor, unconditional u: Tensor, scale w: Float, noiseChannels: Int) -> Tensor {
    precondition(c.shape == u.shape && c.rank == 4, "[guidance] outputs \(c.shape) and \(u.shape) must be equal [N, C, H, W]")
    let (n, channels) = (c.shape[0], c.shape[1])
    let plane = c.shape[2] * c.shape[3]
    return c.withBuffer { cp in
        u.withBuffer { up in
            Tensor.filled(shape: c.shape) { out in
                for i in 0..<n * channels * plane {
                    let channel = (i / plane) % channels
                    out[i] = channel < noiseChannels ? up[i] + w * (cp[i] - up[i]) : cp[i]
                }
            }
        }
    }
}

extension ClassConditioning {
    /// `count` images cycling through classes 0..<classes (0, 1, …, classes − 1, 0, …): class-balanced
    /// sampling for evaluation, and with count = classes · k and a grid of k columns, one class per row
    /// when images are laid out class-major (`rows`).
    public static func balanced(count: Int, classes: Int, guidanceScale: Double) -> ClassConditioning {
        ClassConditioning(labels: (0..<count).map { $0 % max(classes, 1) }, guidanceScale: guidanceScale)
    }

    /// `perRow` images of each of `labels` in turn: a grid with `perRow` columns shows one class per row.
    public static func rows(_ labels: [Int], perRow: Int, guidanceScale: Double) -> ClassConditioning {
        ClassConditioning(labels: labels.flatMap { Array(repeating: $0, count: perRow) }, guidanceScale: guidanceScale)
    }
}
