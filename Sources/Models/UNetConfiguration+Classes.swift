extension UNetConfiguration {
    /// Whether the network takes a class input (diffusers builds `class_embedding` exactly when
    /// `class_embed_type` is set or `num_class_embeds` is).
    public var isClassConditional: Bool { classEmbedType != nil || numClassEmbeds != nil }

    /// Whether the class input is a label (table or "timestep"), not an embedding vector ("identity").
    public var takesClassLabels: Bool { isClassConditional && classEmbedType != "identity" }

    /// The number of real classes, labels 0..<classCount: `class_names.count` if named, else
    /// `num_class_embeds` less the null label; nil when nothing bounds the labels (a "timestep"
    /// model without `num_class_embeds`).
    public var classCount: Int? {
        if let classNames { return classNames.count }
        return numClassEmbeds.map { $0 - (nullClassLabel == nil ? 0 : 1) }
    }

    /// A model trained with class dropout: `count` classes plus the null label `count`, which is
    /// how diffusers stores it (`num_class_embeds` = count + 1, the last row meaning "no class").
    public func withClasses(_ count: Int, names: [String]?, embedType: String? = nil) -> UNetConfiguration {
        var c = self
        c.classEmbedType = embedType
        c.numClassEmbeds = count + 1
        c.nullClassLabel = count
        c.classNames = names
        return c
    }

    /// The class keys' part of `validate()`.
    func validateClassConditioning() throws(UNetConfigurationError) {
        func fail(_ message: String) -> UNetConfigurationError { UNetConfigurationError(message: message) }
        if let type = classEmbedType, type != "timestep", type != "identity" {
            throw fail(
                "class_embed_type '\(type)' is not supported; UNet2DModel takes null (a table of num_class_embeds rows), 'timestep' or 'identity'"
            )
        }
        if let n = numClassEmbeds, !Limits.classEmbeddings.contains(n) {
            throw fail(
                "num_class_embeds is \(n); \(Limits.classEmbeddings.lowerBound) to \(Limits.classEmbeddings.upperBound) are supported")
        }
        if classEmbedType == "identity", nullClassLabel != nil || classNames != nil {
            throw fail(
                "class_embed_type 'identity' takes embedding vectors, not labels, so null_class_label and class_names do not apply; remove them or use a table (class_embed_type null with num_class_embeds)"
            )
        }
        if let null = nullClassLabel {
            guard let n = numClassEmbeds else {
                throw fail("null_class_label \(null) needs num_class_embeds (classes + 1, the null label being the last)")
            }
            guard n >= 2, null == n - 1 else {
                throw fail(
                    "null_class_label is \(null) but num_class_embeds is \(n); the null label must be the last, \(n - 1), with at least one class before it"
                )
            }
        }
        guard let names = classNames else { return }
        if let n = numClassEmbeds, names.count != n - (nullClassLabel == nil ? 0 : 1) {
            let expected = n - (nullClassLabel == nil ? 0 : 1)
            throw fail(
                "class_names has \(names.count) names but num_class_embeds \(n)\(nullClassLabel == nil ? "" : " less the null label") means \(expected) classes; give one name per class"
            )
        }
        guard !names.isEmpty else { throw fail("class_names is empty; remove it or name every class") }
        if let bad = names.first(where: { !Limits.classNameBytes.contains($0.utf8.count) }) {
            throw fail(
                "class name '\(bad.prefix(40))' has \(bad.utf8.count) bytes; names must have \(Limits.classNameBytes.lowerBound) to \(Limits.classNameBytes.upperBound)"
            )
        }
        var seen = Set<String>()
        if let duplicate = names.first(where: { !seen.insert($0).inserted }) {
            throw fail("class_names holds '\(duplicate)' twice; every class needs its own name")
        }
    }
}
