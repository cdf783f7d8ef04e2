import Diffusion

/// The higher-order solvers, each read from its diffusers class's keys (see `SchedulerFactory.swift`).
extension SamplingPipeline {
    func solver(_ kind: SamplerKind, steps: Int, order: Int?, karras: Bool?, reader: ConfigReader) throws -> any Scheduler {
        throw PipelineError.unsupported("sampler \(kind.rawValue) (not built yet)")
    }
}
