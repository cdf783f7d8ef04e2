import Diffusion

/// The samplers `ddpm sample --sampler NAME` offers, each one diffusers scheduler class.
///
/// | name | diffusers class | order | steps (default) | deterministic |
/// | --- | --- | --- | --- | --- |
/// | ddpm | DDPMScheduler (Algorithm 2) | 1 (SDE) | T | no |
/// | ddim | DDIMScheduler | 1 | 50 | η = 0: yes |
/// | pndm | PNDMScheduler | 4 (pseudo linear multistep) | 20 | yes |
/// | deis | DEISMultistepScheduler | 1–3 (2) | 20 | yes |
/// | dpm-solver++ | DPMSolverMultistepScheduler | 1–3 (2) | 20 | yes |
/// | dpm-solver++-sde | DPMSolverMultistepScheduler, sde-dpmsolver++ | 1–2 (2) | 20 | no |
/// | dpm-solver++-singlestep | DPMSolverSinglestepScheduler | 1–3 (2) | 20 | yes |
/// | unipc | UniPCMultistepScheduler | 1–3 (2) + corrector | 20 | yes |
/// | euler | EulerDiscreteScheduler | 1 | 20 | yes |
/// | euler-ancestral | EulerAncestralDiscreteScheduler | 1 (SDE) | 20 | no |
/// | heun | HeunDiscreteScheduler | 2 (2N − 1 evaluations) | 20 | yes |
public enum SamplerKind: String, CaseIterable, Sendable {
    case ddpm, ddim, pndm, deis
    case dpmSolverPlusPlus = "dpm-solver++"
    case dpmSolverPlusPlusSDE = "dpm-solver++-sde"
    case dpmSolverPlusPlusSinglestep = "dpm-solver++-singlestep"
    case unipc, euler
    case eulerAncestral = "euler-ancestral"
    case heun

    /// The diffusers scheduler class (`_class_name`).
    public var className: String {
        switch self {
        case .ddpm: "DDPMScheduler"
        case .ddim: "DDIMScheduler"
        case .pndm: "PNDMScheduler"
        case .deis: "DEISMultistepScheduler"
        case .dpmSolverPlusPlus, .dpmSolverPlusPlusSDE: "DPMSolverMultistepScheduler"
        case .dpmSolverPlusPlusSinglestep: "DPMSolverSinglestepScheduler"
        case .unipc: "UniPCMultistepScheduler"
        case .euler: "EulerDiscreteScheduler"
        case .eulerAncestral: "EulerAncestralDiscreteScheduler"
        case .heun: "HeunDiscreteScheduler"
        }
    }

    /// The sampler a scheduler_config.json means (its `_class_name`, and for DPMSolverMultistep
    /// its `algorithm_type`).
    public init(configuration: SchedulerConfiguration) throws(PipelineError) {
        let name = configuration.className
        if name == "DPMSolverMultistepScheduler" {
            let algorithm = configuration.options["algorithm_type"]
            self =
                algorithm == .string("sde-dpmsolver++") || algorithm == .string("sde-dpmsolver")
                ? .dpmSolverPlusPlusSDE : .dpmSolverPlusPlus
            return
        }
        guard let kind = SamplerKind.allCases.first(where: { $0.className == name }) else {
            throw .unknownSchedulerClass(name, known: Array(Set(SamplerKind.allCases.map(\.className))).sorted())
        }
        self = kind
    }

    /// The sampler a configuration means, with a DDPMScheduler config meaning `fallback` (a
    /// command's own default, e.g. DDIM-50 for `ddpm sample`).
    public init(configuration: SchedulerConfiguration, ddpmSchedulerMeans fallback: SamplerKind) throws(PipelineError) {
        let kind = try SamplerKind(configuration: configuration)
        self = kind == .ddpm ? fallback : kind
    }

    /// Network evaluations per image when `--steps` is not given: T for Algorithm 2, 50 for DDIM
    /// (DDIMPipeline's default), 20 for the higher-order solvers.
    public func defaultSteps(timestepCount: Int) -> Int {
        switch self {
        case .ddpm: timestepCount
        case .ddim: min(50, timestepCount)
        default: min(20, timestepCount)
        }
    }

    /// Whether `--order` applies (the solver has `solver_order`).
    public var takesOrder: Bool { [.deis, .dpmSolverPlusPlus, .dpmSolverPlusPlusSDE, .dpmSolverPlusPlusSinglestep, .unipc].contains(self) }
    /// Whether `--karras` applies (the solver has `use_karras_sigmas`).
    public var takesKarras: Bool { ![.ddpm, .ddim, .pndm].contains(self) }
    /// Whether `--eta` applies.
    public var takesEta: Bool { self == .ddim }
}

/// Which sampler draws the samples, with the options a user may override; `nil` fields take the
/// scheduler configuration's value or the solver's default (diffusers' `from_config`).
public struct Sampler: Equatable, Sendable, CustomStringConvertible {
    public var kind: SamplerKind
    /// diffusers' `num_inference_steps` (Heun then makes 2N − 1 evaluations, PNDM N + 9 with PRK).
    public var steps: Int?
    /// DDIM's η.
    public var eta: Double?
    /// `solver_order`.
    public var order: Int?
    /// `use_karras_sigmas`.
    public var karras: Bool?

    public init(_ kind: SamplerKind, steps: Int? = nil, eta: Double? = nil, order: Int? = nil, karras: Bool? = nil) {
        (self.kind, self.steps, self.eta, self.order, self.karras) = (kind, steps, eta, order, karras)
    }

    /// Algorithm 2 on all T steps (`nil`) or respaced to `steps`.
    public static func ddpm(steps: Int?) -> Sampler { Sampler(.ddpm, steps: steps) }
    /// DDIM with stochasticity η.
    public static func ddim(steps: Int, eta: Double) -> Sampler { Sampler(.ddim, steps: steps, eta: eta) }

    /// Refuses options that this sampler does not take, naming the samplers that do.
    public func validate() throws(PipelineError) {
        func takers(_ p: (SamplerKind) -> Bool) -> [String] { SamplerKind.allCases.filter(p).map(\.rawValue) }
        if eta != nil && !kind.takesEta {
            throw .inapplicableSamplerOption(option: "--eta", sampler: kind.rawValue, takenBy: takers(\.takesEta))
        }
        if order != nil && !kind.takesOrder {
            throw .inapplicableSamplerOption(option: "--order", sampler: kind.rawValue, takenBy: takers(\.takesOrder))
        }
        if karras != nil && !kind.takesKarras {
            throw .inapplicableSamplerOption(option: "--karras", sampler: kind.rawValue, takenBy: takers(\.takesKarras))
        }
        if let eta, !(eta >= 0 && eta.isFinite) { throw .invalid("--eta must be a finite number ≥ 0 (got \(eta))") }
        if let steps, steps < 1 { throw .invalid("--steps must be at least 1 (got \(steps))") }
        if let order, !(1...3).contains(order) { throw .invalid("--order must be 1, 2 or 3 (got \(order))") }
    }

    public var description: String {
        var parts = [kind.rawValue]
        if let steps { parts.append("\(steps) steps") }
        if let eta { parts.append("η = \(eta)") }
        if let order { parts.append("order \(order)") }
        if let karras { parts.append(karras ? "Karras σ" : "no Karras σ") }
        return parts.joined(separator: ", ")
    }
}
