import ArgumentParser
import DataParallel
import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import TensorKernels
import Tensors

/// `ddpm bench parallel`: data-parallel scaling on this machine. For each preset it
/// times one process with 2 threads against `mpirun -np 2` with 1 thread each (the same cores,
/// the same global batch), the gradient all-reduce inside the step and alone, and projects the
/// efficiency at 2–64 nodes with a ring all-reduce model. Each variant runs in a child process.
struct BenchParallel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parallel",
        abstract: "Benchmark data-parallel training: 1 process × 2 threads vs mpirun -np 2 × 1 thread, and projected scaling.")

    @Option(help: "Comma-separated model presets.") var presets = "small32-grey,cifar10"
    @Option(help: "Global batch per step (split over the processes).") var batchSize = 64
    @Option(help: "Timed steps per variant (median reported), after one warm-up step.") var steps = 3
    @Option(help: "Per-message latency assumed for the network projection, in microseconds.") var latency = 20.0
    @Option(help: "Extra mpirun options, space-separated (e.g. --mpirun-options=\"--bind-to none\").") var mpirunOptions = ""
    @Option(help: "(internal) run one variant and print JSON; the threads per process.") var worker: Int?

    func validate() throws {
        for p in presets.split(separator: ",") where UNetConfiguration.presets[String(p)] == nil {
            throw ValidationError("unknown preset '\(p)' in --presets.")
        }
        guard steps >= 1, batchSize >= 2, batchSize % 2 == 0 else { throw ValidationError("--steps must be >= 1 and --batch-size even.") }
    }

    func run() throws {
        if let worker { return try measure(threads: worker) }
        guard let mpirun = findMPIRun() else {
            throw CommandError.toolNotFound(name: "mpirun", install: "install Open MPI (apt-get install openmpi-bin libopenmpi-dev)")
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // The parent's line (the workers print JSON only, and set their thread count before oneDNN loads).
        print(ComputeSettings.convolutionBackend.description)
        print(
            "data-parallel benchmark: global batch \(batchSize), median of \(steps) steps, \(ProcessInfo.processInfo.activeProcessorCount) cores"
        )
        for preset in presets.split(separator: ",").map(String.init) {
            let common = ["bench", "parallel", "--presets", preset, "--batch-size", "\(batchSize)", "--steps", "\(steps)"]
            let one: [String: Any] = try runJSONProcess([me] + common + ["--worker", "2"])
            let extra = mpirunOptions.split(separator: " ").map(String.init)
            let two: [String: Any] = try runJSONProcess(
                [mpirun, "--allow-run-as-root", "--oversubscribe"] + extra + ["-np", "2", me] + common + ["--worker", "1"],
                hint: "(mpirun -np 2)")
            report(preset, one: one, two: two)
        }
    }

    private func report(_ preset: String, one: [String: Any], two: [String: Any]) {
        func d(_ j: [String: Any], _ k: String) -> Double { (j[k] as? Double) ?? Double(j[k] as? Int ?? 0) }
        let bytes = d(two, "allReduceBytes")
        let parameters = Int(d(one, "parameters"))
        let (ips1, ips2) = (d(one, "imagesPerSecond"), d(two, "imagesPerSecond"))
        let inStep = d(two, "allReduceInStepSeconds")
        let alone = d(two, "allReduceSeconds")
        print("\n\(preset): \(parameters.formatted()) parameters, \(format(bytes / 1e6)) MB of gradients")
        print("  1 process × 2 threads:   \(format(ips1)) img/s (\(format(d(one, "stepSeconds") * 1e3)) ms/step)")
        print("  mpirun -np 2 × 1 thread: \(format(ips2)) img/s (\(format(d(two, "stepSeconds") * 1e3)) ms/step)")
        print("  all-reduce in the step:  \(format(inStep * 1e3)) ms (includes waiting for the slower rank)")
        print("  all-reduce alone:        \(format(alone * 1e3)) ms, \(format(bytes / alone / 1e9)) GB/s algorithm bandwidth")
        print("  scaling efficiency at 2 processes: \(format(100 * ips2 / ips1)) %")
        // Ring all-reduce (Patarasuk & Yuan 2009): each rank sends and receives 2(N−1)/N · S bytes in
        // 2(N−1) messages. Per byte: the measured local cost (the reduction and copies, 2(N−1)/N = 1
        // at N = 2) plus the wire time. Weak scaling: every node keeps the measured per-process
        // compute (batch / 2 images on the same cores), and the all-reduce is not overlapped.
        let compute = d(two, "stepSeconds") - inStep
        let localPerByte = alone / bytes
        print("  projected efficiency (ring all-reduce, no overlap, \(format(latency)) µs per message, \(batchSize / 2) images per node):")
        print("    nodes " + [2, 4, 8, 16, 64].map { String(format: "%7d", $0) }.joined())
        for gbit in [10.0, 100.0] {
            let row = [2, 4, 8, 16, 64].map { n -> String in
                let factor = 2 * Double(n - 1) / Double(n)
                let t = factor * bytes * (localPerByte + 8 / (gbit * 1e9)) + 2 * Double(n - 1) * latency * 1e-6
                return String(format: "%6.1f%%", 100 * compute / (compute + t))
            }
            print("    \(String(format: "%3.0f", gbit)) Gbit/s " + row.joined(separator: " "))
        }
    }

    /// One variant: this process (alone or one rank of mpirun) trains `steps` timed steps on a
    /// fixed synthetic batch and prints one JSON line (rank 0).
    private func measure(threads: Int) throws {
        ComputeSettings.threadCount = threads
        let comm = try Communicator.world()
        let preset = presets.split(separator: ",").map(String.init)[0]
        var unetConfig = UNetConfiguration.presets[preset]!
        unetConfig.sampleSize = unetConfig.sampleSize ?? 32
        let size = unetConfig.sampleSize!
        let channels = unetConfig.inChannels
        var config = TrainingConfiguration()
        config.batchSize = batchSize
        config.steps = Int.max / 2
        guard batchSize % comm.size == 0 else {
            throw DistributedError.batchNotDivisible(batch: batchSize, accumulation: 1, processes: comm.size)
        }
        let shard = try Trainer.shard(of: config, rank: comm.rank, processes: comm.size)
        var rng = SeededGenerator(seed: 7)
        let pixels = (0..<batchSize * channels * size * size).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let images = ImageSet(channels: channels, height: size, width: size, pixels: pixels)
        let loader = try DataLoader(
            images: images, batchSize: batchSize, seed: 0, horizontalFlips: false, prefetch: false,
            shard: comm.size > 1 ? shard : nil)
        let trainer = try Trainer(
            unet: try UNet(unetConfig), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader,
            configuration: config, communicator: comm)
        let batch = images.batch(indices: Array(shard))
        try trainer.trainStep { batch }  // warm-up: plans, buffers
        var times: [Double] = []
        var reduceTimes: [Double] = []
        for _ in 0..<steps {
            try comm.barrier()
            let before = trainer.allReduceSeconds
            let start = DispatchTime.now().uptimeNanoseconds
            try trainer.trainStep { batch }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            reduceTimes.append(trainer.allReduceSeconds - before)
        }
        // The all-reduce alone, all ranks released together: its cost without compute skew.
        let count = trainer.parameters.reduce(0) { $0 + $1.parameter.value.scalarCount } + 1
        var buffer = [Float](repeating: 1, count: count)
        var alone: [Double] = []
        for _ in 0..<max(3, steps) {
            try comm.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            try comm.allReduce(&buffer, .sum)
            alone.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        let step = median(times)
        let result: [String: Any] = [
            "preset": preset, "parameters": trainer.unet.parameterCount, "processes": comm.size, "threads": threads,
            "stepSeconds": step, "imagesPerSecond": Double(batchSize) / step, "allReduceInStepSeconds": median(reduceTimes),
            "allReduceSeconds": comm.size > 1 ? median(alone) : 0, "allReduceBytes": 4 * count,
        ]
        if comm.isRoot { print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: .sortedKeys), as: UTF8.self)) }
        comm.finalize()
    }

    private func findMPIRun() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(dir)/mpirun") { return "\(dir)/mpirun" }
        return nil
    }
}
