import Diffusion

/// The higher-order solvers, each read from its diffusers class's keys with that class's defaults
/// (see `SchedulerFactory.swift`). `order` and `karras` are the sampler's explicit overrides.
extension SamplingPipeline {
    func solver(_ kind: SamplerKind, steps: Int, order: Int?, karras: Bool?, reader: ConfigReader) throws -> any Scheduler {
        let schedule = diffusion.schedule
        let prediction = diffusion.parameterization
        switch kind {
        case .euler:
            var c = EulerDiscrete.Configuration()
            c.prediction = prediction
            c.timestepSpacing = try reader.spacing(default: .linspace)
            c.stepsOffset = try reader.int("steps_offset", 0)
            c.sigmaSpacing = try reader.sigmaSpacing(karras: karras)
            c.interpolation = try reader.choice("interpolation_type", ["linear": .linear, "log_linear": .logLinear], .linear)
            if let v = try reader.optionalDouble("sigma_min") { c.sigmaMinimum = v }
            if let v = try reader.optionalDouble("sigma_max") { c.sigmaMaximum = v }
            c.timestepType = try reader.choice("timestep_type", ["discrete": .discrete, "continuous": .continuous], .discrete)
            c.finalSigma = try reader.choice("final_sigmas_type", ["zero": .zero, "sigma_min": .sigmaMinimum], .zero)
            return try EulerDiscrete(schedule: schedule, steps: steps, configuration: c)
        case .eulerAncestral:
            var c = EulerAncestralDiscrete.Configuration()
            c.prediction = prediction
            c.timestepSpacing = try reader.spacing(default: .linspace)
            c.stepsOffset = try reader.int("steps_offset", 0)
            guard try reader.sigmaSpacing(karras: karras) == .timesteps else {
                throw PipelineError.invalidSchedulerOption(
                    className: reader.className, key: "use_karras_sigmas", value: "true",
                    accepted: "EulerAncestralDiscreteScheduler uses the interpolated σ only")
            }
            return try EulerAncestralDiscrete(schedule: schedule, steps: steps, configuration: c)
        case .heun:
            var c = HeunDiscrete.Configuration()
            c.prediction = prediction
            c.timestepSpacing = try reader.spacing(default: .linspace)
            c.stepsOffset = try reader.int("steps_offset", 0)
            c.sigmaSpacing = try reader.sigmaSpacing(karras: karras)
            c.clipSample = try reader.bool("clip_sample", false)
            c.clipSampleRange = try reader.double("clip_sample_range", 1)
            return try HeunDiscrete(schedule: schedule, steps: steps, configuration: c)
        case .dpmSolverPlusPlus, .dpmSolverPlusPlusSDE:
            var c = DPMSolverMultistep.Configuration()
            c.prediction = prediction
            c.solverOrder = try order ?? reader.int("solver_order", 2)
            (c.thresholding, c.dynamicThresholdingRatio, c.sampleMaxValue) = try reader.thresholding()
            let algorithms: KeyValuePairs<String, DPMSolverMultistep.AlgorithmType> = [
                "dpmsolver++": .dpmSolverPlusPlus, "dpmsolver": .dpmSolver, "deis": .dpmSolverPlusPlus,
                "sde-dpmsolver++": .sdeDPMSolverPlusPlus, "sde-dpmsolver": .sdeDPMSolver,
            ]
            let configured = try reader.choice("algorithm_type", algorithms, .dpmSolverPlusPlus)
            let isSDE = configured == .sdeDPMSolverPlusPlus || configured == .sdeDPMSolver
            c.algorithmType =
                kind == .dpmSolverPlusPlusSDE ? (isSDE ? configured : .sdeDPMSolverPlusPlus) : (isSDE ? .dpmSolverPlusPlus : configured)
            c.solverType = try reader.dpmSolverType()
            c.lowerOrderFinal = try reader.bool("lower_order_final", true)
            c.eulerAtFinal = try reader.bool("euler_at_final", false)
            c.useKarrasSigmas = try karras ?? reader.bool("use_karras_sigmas", false)
            c.useLuLambdas = try reader.bool("use_lu_lambdas", false)
            c.finalSigma = try reader.choice("final_sigmas_type", ["zero": .zero, "sigma_min": .sigmaMin], .zero)
            c.lambdaMinClipped = try reader.double("lambda_min_clipped", -.infinity, allowingInfinity: true)
            c.timestepSpacing = try reader.spacing(default: .linspace)
            c.stepsOffset = try reader.int("steps_offset", 0)
            c.roundsSigmaTimesteps = try reader.string("beta_schedule", "linear") != "squaredcos_cap_v2"
            try reader.refuseUnbuiltSigmaOptions()
            return try DPMSolverMultistep(schedule: schedule, steps: steps, configuration: c)
        case .dpmSolverPlusPlusSinglestep:
            var c = DPMSolverSinglestep.Configuration()
            c.prediction = prediction
            c.solverOrder = try order ?? reader.int("solver_order", 2)
            (c.thresholding, c.dynamicThresholdingRatio, c.sampleMaxValue) = try reader.thresholding()
            c.algorithmType = try reader.choice(
                "algorithm_type",
                [
                    "dpmsolver++": .dpmSolverPlusPlus, "dpmsolver": .dpmSolver,
                    "sde-dpmsolver++": .sdeDPMSolverPlusPlus,
                ], .dpmSolverPlusPlus)
            c.solverType = try reader.dpmSolverType()
            c.lowerOrderFinal = try reader.bool("lower_order_final", false)
            c.useKarrasSigmas = try karras ?? reader.bool("use_karras_sigmas", false)
            c.finalSigma = try reader.choice("final_sigmas_type", ["zero": .zero, "sigma_min": .sigmaMin], .zero)
            c.lambdaMinClipped = try reader.double("lambda_min_clipped", -.infinity, allowingInfinity: true)
            try reader.refuseUnbuiltSigmaOptions()
            return try DPMSolverSinglestep(schedule: schedule, steps: steps, configuration: c)
        case .unipc:
            var c = UniPCMultistep.Configuration()
            c.prediction = prediction
            c.solverOrder = try order ?? reader.int("solver_order", 2)
            (c.thresholding, c.dynamicThresholdingRatio, c.sampleMaxValue) = try reader.thresholding()
            c.predictX0 = try reader.bool("predict_x0", true)
            c.solverType = try reader.choice(
                "solver_type", ["bh1": .bh1, "bh2": .bh2, "midpoint": .bh2, "heun": .bh2, "logrho": .bh2], .bh2)
            c.lowerOrderFinal = try reader.bool("lower_order_final", true)
            c.disableCorrector = try reader.ints("disable_corrector", [])
            c.useKarrasSigmas = try karras ?? reader.bool("use_karras_sigmas", false)
            c.timestepSpacing = try reader.spacing(default: .linspace)
            c.stepsOffset = try reader.int("steps_offset", 0)
            c.finalSigma = try reader.choice("final_sigmas_type", ["zero": .zero, "sigma_min": .sigmaMin], .zero)
            if reader.options["solver_p"].map({ $0 != .null }) ?? false {
                throw PipelineError.invalidSchedulerOption(
                    className: reader.className, key: "solver_p", value: "a scheduler",
                    accepted: "only null is supported")
            }
            try reader.refuseUnbuiltSigmaOptions()
            return try UniPCMultistep(schedule: schedule, steps: steps, configuration: c)
        case .deis:
            var c = DEISMultistep.Configuration()
            c.prediction = prediction
            c.solverOrder = try order ?? reader.int("solver_order", 2)
            (c.thresholding, c.dynamicThresholdingRatio, c.sampleMaxValue) = try reader.thresholding()
            _ = try reader.choice("algorithm_type", ["deis": 0, "dpmsolver": 0, "dpmsolver++": 0], 0)  // all mean tAB-DEIS
            _ = try reader.choice("solver_type", ["logrho": 0, "midpoint": 0, "heun": 0, "bh1": 0, "bh2": 0], 0)
            c.lowerOrderFinal = try reader.bool("lower_order_final", true)
            c.useKarrasSigmas = try karras ?? reader.bool("use_karras_sigmas", false)
            c.timestepSpacing = try reader.spacing(default: .linspace)
            c.stepsOffset = try reader.int("steps_offset", 0)
            try reader.refuseUnbuiltSigmaOptions()
            return try DEISMultistep(schedule: schedule, steps: steps, configuration: c)
        case .pndm:
            var c = PNDM.Configuration()
            c.prediction = prediction
            c.skipPRKSteps = try reader.bool("skip_prk_steps", false)
            c.setAlphaToOne = try reader.bool("set_alpha_to_one", false)
            c.timestepSpacing = try reader.spacing(default: .leading)
            c.stepsOffset = try reader.int("steps_offset", 0)
            return try PNDM(schedule: schedule, steps: steps, configuration: c)
        case .ddpm, .ddim:
            preconditionFailure("[SchedulerFactory] \(kind.rawValue) is built by scheduler(for:)")
        }
    }
}

extension ConfigReader {
    /// `timestep_spacing` with the class's default.
    func spacing(default fallback: TimestepSpacing) throws(PipelineError) -> TimestepSpacing {
        try choice("timestep_spacing", ["leading": .leading, "linspace": .linspace, "trailing": .trailing], fallback)
    }

    /// `thresholding`, `dynamic_thresholding_ratio`, `sample_max_value` (Imagen's dynamic thresholding).
    func thresholding() throws(PipelineError) -> (Bool, Double, Double) {
        (try bool("thresholding", false), try double("dynamic_thresholding_ratio", 0.995), try double("sample_max_value", 1))
    }

    /// DPM-Solver's `solver_type`; diffusers reads UniPC's and DEIS's names as midpoint.
    func dpmSolverType() throws(PipelineError) -> DPMSolverMultistep.SolverType {
        try choice(
            "solver_type", ["midpoint": .midpoint, "heun": .heun, "logrho": .midpoint, "bh1": .midpoint, "bh2": .midpoint], .midpoint)
    }

    /// Refuses σ-grid and schedule options that set true ask for something not built here.
    func refuseUnbuiltSigmaOptions() throws(PipelineError) {
        for key in ["use_exponential_sigmas", "use_beta_sigmas", "use_flow_sigmas", "use_dynamic_shifting", "rescale_betas_zero_snr"]
        where try bool(key, false) {
            throw .invalidSchedulerOption(className: className, key: key, value: "true", accepted: "only false is supported")
        }
    }

    /// A number that has no default (absent or null: nil).
    func optionalDouble(_ key: String) throws(PipelineError) -> Double? {
        options[key] == nil || options[key] == .null ? nil : try double(key, 0)
    }

    /// `use_karras_sigmas` / `use_exponential_sigmas` (`--karras` overrides); the σ grids not built
    /// here are refused, as is a schedule rescaled to zero terminal SNR.
    func sigmaSpacing(karras: Bool?) throws(PipelineError) -> EulerDiscrete.SigmaSpacing {
        for key in ["use_beta_sigmas", "rescale_betas_zero_snr"] where try bool(key, false) {
            throw .invalidSchedulerOption(className: className, key: key, value: "true", accepted: "only false is supported")
        }
        let configured = try bool("use_karras_sigmas", false)
        let useKarras = karras ?? configured
        let exponential = try bool("use_exponential_sigmas", false)
        if useKarras && exponential {
            throw .invalidSchedulerOption(
                className: className, key: "use_exponential_sigmas", value: "true",
                accepted: "use only one of use_karras_sigmas and use_exponential_sigmas")
        }
        return useKarras ? .karras : exponential ? .exponential : .timesteps
    }
}
