import Models

/// What a user asks of a model's classes (`--class`, repeatable, and `--guidance-scale`), turned
/// into labels here so that `ddpm sample`, `evaluate` and `interpolate` share one set of rules and
/// messages: an unconditional model takes neither option; a conditional one takes class names or
/// indices, or "all" for every class in label order.
public struct ClassRequest: Equatable, Sendable {
    /// The `--class` values as given ("sneaker", "7", "all").
    public var classes: [String]
    /// w of `ClassConditioning`; nil: `defaultGuidanceScale`.
    public var guidanceScale: Double?

    public init(classes: [String] = [], guidanceScale: Double? = nil) {
        (self.classes, self.guidanceScale) = (classes, guidanceScale)
    }

    /// w when none is given: 2 for a model trained with class dropout (the scale of the training
    /// grids), else 1 (plain conditional sampling, the only choice without a null label).
    public static func defaultGuidanceScale(for c: UNetConfiguration) -> Double { c.nullClassLabel == nil ? 1 : 2 }

    /// Refuses the options for an unconditional model, naming them.
    func checkModel(_ c: UNetConfiguration) throws(PipelineError) -> Bool {
        guard c.isClassConditional else {
            if !classes.isEmpty {
                throw .classCondition(
                    "--class \(classes.joined(separator: ", ")) was given, but this model is unconditional (its config.json has no num_class_embeds); drop --class, or use a model trained with ddpm train --conditional"
                )
            }
            if let w = guidanceScale {
                throw .classCondition(
                    "--guidance-scale \(w) was given, but this model is unconditional (its config.json has no num_class_embeds); drop --guidance-scale"
                )
            }
            return false
        }
        guard c.takesClassLabels else {
            throw .classCondition("this model's class_embed_type is 'identity': it takes embedding vectors, not --class labels")
        }
        return true
    }

    /// The requested labels in order ("all", or nothing requested: 0..<classCount).
    func labels(_ c: UNetConfiguration) throws(PipelineError) -> [Int] {
        func all() throws(PipelineError) -> [Int] {
            guard let count = c.classCount else {
                throw .classCondition(
                    "this model's config.json does not say how many classes it has (no num_class_embeds or class_names), so give --class indices"
                )
            }
            return Array(0..<count)
        }
        if classes.isEmpty { return try all() }
        if classes.contains("all") {
            guard classes == ["all"] else { throw .classCondition("--class all already means every class; give it alone") }
            return try all()
        }
        var out: [Int] = []
        for text in classes { out.append(try c.classLabel(text)) }
        return out
    }

    /// `perClass` images of each requested class, class-major (a grid of `perClass` columns
    /// shows one class per row); every class when none is requested. Nil for an unconditional model.
    public func rows(for c: UNetConfiguration, perClass: Int) throws(PipelineError) -> ClassConditioning? {
        guard try checkModel(c) else { return nil }
        let conditioning = ClassConditioning.rows(
            try labels(c), perRow: perClass,
            guidanceScale: guidanceScale ?? Self.defaultGuidanceScale(for: c))
        try conditioning.validate(for: c)
        return conditioning
    }

    /// `total` images over the requested classes in class-major blocks of near-equal size (for a
    /// given x_T of `total` images). Nil for an unconditional model.
    public func rows(for c: UNetConfiguration, total: Int) throws(PipelineError) -> ClassConditioning? {
        guard try checkModel(c) else { return nil }
        let labels = try labels(c)
        let conditioning = ClassConditioning(
            labels: (0..<total).map { labels[$0 * labels.count / max(total, 1)] },
            guidanceScale: guidanceScale ?? Self.defaultGuidanceScale(for: c))
        try conditioning.validate(for: c)
        return conditioning
    }

    /// `count` images cycling through the requested classes (all by default): class-balanced
    /// sampling for FID/IS. Nil for an unconditional model.
    public func balanced(for c: UNetConfiguration, count: Int) throws(PipelineError) -> ClassConditioning? {
        guard try checkModel(c) else { return nil }
        let labels = try labels(c)
        let conditioning = ClassConditioning(
            labels: (0..<count).map { labels[$0 % labels.count] },
            guidanceScale: guidanceScale ?? Self.defaultGuidanceScale(for: c))
        try conditioning.validate(for: c)
        return conditioning
    }

    /// The one class that every image of a batch is drawn as (interpolation). Nil for an unconditional model.
    public func single(for c: UNetConfiguration) throws(PipelineError) -> (label: Int, guidanceScale: Double)? {
        guard try checkModel(c) else { return nil }
        guard classes.count == 1, classes != ["all"] else {
            throw .classCondition(
                "this model is class-conditional: give exactly one --class (a name or an index\(c.classNameList.isEmpty ? "" : "; the classes are\(c.classNameList.dropFirst())")), not \(classes.isEmpty ? "none" : classes.joined(separator: ", "))"
            )
        }
        let label = try c.classLabel(classes[0])
        let w = guidanceScale ?? Self.defaultGuidanceScale(for: c)
        try ClassConditioning(labels: [label], guidanceScale: w).validate(for: c)
        return (label, w)
    }
}
