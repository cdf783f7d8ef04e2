import Datasets
import Foundation
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// `mpirun -np N ddpm train`: the same model for every N, resume across N, a killed
/// rank, refused mismatches. Each run trains the tiny8-grey preset on 32 8×8 images for seconds.
enum MPIRun {
    /// Open MPI's launcher on PATH, or nil (then the tests are skipped, never passed).
    static let mpirun: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()
    static var available: Bool { mpirun != nil }

    /// 32 striped 8×8 grey PNGs (as `Tiny.images()`), written once.
    static let data: URL = {
        let directory = try! Tiny.temporaryDirectory().appendingPathComponent("images")
        var scalars: [Float] = []
        for i in 0..<32 {
            for y in 0..<8 { for x in 0..<8 { scalars.append((i % 2 == 0 ? y + i / 2 : x + i / 3) % 4 < 2 ? 0.8 : -0.8) } }
        }
        try! ImageWriter.writeImages(Tensor(shape: [32, 1, 8, 8], scalars: scalars), to: directory, prefix: "bar")
        return directory
    }()

    /// The `ddpm train` options of every run here: batch 12 (divisible by 1, 2, 3), flips,
    /// dropout 0.1, warm-up, EMA, clipping.
    static func trainArguments(output: URL, steps: Int, batch: Int = 12, extra: [String] = []) -> [String] {
        [
            "train", "--dataset", "folder", "--data", data.path, "--preset", "tiny8-grey", "--output", output.path,
            "--steps", "\(steps)", "--batch-size", "\(batch)", "--checkpoint-every", "10", "--sample-every", "0",
            "--seed", "5", "--learning-rate", "2e-4", "--warmup", "3", "--flip",
        ] + extra
    }

    /// Runs `mpirun -np n ddpm arguments…` with one thread per rank.
    static func run(processes n: Int, _ arguments: [String], fault: String? = nil) throws -> (status: Int32, output: String) {
        let process = launch(processes: n, arguments, fault: fault)
        let pipe = process.standardOutput as! Pipe
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func launch(processes n: Int, _ arguments: [String], fault: String? = nil) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments =
            ["--allow-run-as-root", "--oversubscribe", "-np", "\(n)", "-x", "DDPM_NUM_THREADS=1"]
            + (fault.map { ["-x", "DDPM_FAULT=\($0)"] } ?? []) + [CommandLineTool.binary.path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try! process.run()
        return process
    }

    /// The raw weights (`model.*`) of a checkpoint.
    static func weights(_ url: URL) throws -> [String: [Float]] {
        let file = try SafeTensorsFile.read(contentsOf: url)
        return Dictionary(uniqueKeysWithValues: file.tensors.filter { $0.key.hasPrefix("model.") }.map { ($0.key, $0.value.scalars) })
    }

    /// The largest difference over all weight tensors, relative to each tensor's largest magnitude.
    ///
    /// Attention key biases are left out: their gradient is zero in exact arithmetic (adding a
    /// constant to every key shifts each softmax row by a constant), so they hold float rounding
    /// that Adam's normalisation scales up to full steps, and differ between any two summation
    /// orders, even one process with 1 and 2 threads. Measured with the paper's learning rate
    /// (2e-4): N = 1 with 1 vs 2 threads already differs by 2e-6 this way.
    static func maxRelativeDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        precondition(Set(a.keys) == Set(b.keys) && !a.isEmpty, "different tensors")
        return a.keys.filter { !$0.hasSuffix("to_k.bias") }.map { key in
            let x = a[key]!
            let y = b[key]!
            let scale = max(y.map(abs).max() ?? 0, 1e-12)
            return zip(x, y).map { abs($0 - $1) }.max()! / scale
        }.max()!
    }

    static func checkpoint(_ output: URL, step: Int) -> URL { output.appendingPathComponent("checkpoints/step-\(step).safetensors") }
}

/// Whether this machine lets us make network namespaces (root, iproute2): the two-host test.
enum NetworkNamespaces {
    static let available: Bool = {
        guard MPIRun.available, getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return false }
        let name = "ddpmprobe\(getpid())"
        func ip(_ args: [String]) -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = args
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
        guard ip(["netns", "add", name]) else { return false }
        return ip(["netns", "del", name])
    }()
}

@Test("the ddpm binary does not link libmpi: it runs without Open MPI, loading it only under mpirun")
func binaryDoesNotLinkMPI() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
    process.arguments = [CommandLineTool.binary.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0 && !text.isEmpty)
    #expect(!text.contains("libmpi"), "ldd: \(text)")
}

@Suite(
    "data-parallel training with mpirun", .serialized,
    .enabled(if: MPIRun.available, "mpirun not installed (apt-get install openmpi-bin libopenmpi-dev)"))
struct DataParallelTests {
    /// One process without mpirun: the reference for every N.
    static let reference: URL = {
        let output = try! Tiny.temporaryDirectory()
        let (status, text) = try! CommandLineTool.run(MPIRun.trainArguments(output: output, steps: 20))
        precondition(status == 0, "reference run failed: \(text)")
        return output
    }()

    @Test("mpirun -np 2 and -np 3 train the single-process model (≤ 1e-5 relative, 20 steps)", arguments: [2, 3])
    func sameModelForAnyN(_ n: Int) throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let (status, text) = try MPIRun.run(processes: n, MPIRun.trainArguments(output: output, steps: 20))
        try #require(status == 0, "mpirun -np \(n) failed: \(text)")
        #expect(text.contains("data parallel: \(n) processes × \(12 / n) images"), "output: \(text)")
        let single = try MPIRun.weights(MPIRun.checkpoint(Self.reference, step: 20))
        let parallel = try MPIRun.weights(MPIRun.checkpoint(output, step: 20))
        let difference = MPIRun.maxRelativeDifference(parallel, single)
        print("max relative weight difference, N = 1 vs \(n): \(difference)")
        #expect(difference <= 1e-5)
    }

    @Test("gradient accumulation composes: -np 2 with 2 micro-batches equals one process with 2")
    func accumulation() throws {
        let (single, parallel) = (try Tiny.temporaryDirectory(), try Tiny.temporaryDirectory())
        defer { for d in [single, parallel] { try? FileManager.default.removeItem(at: d) } }
        let extra = ["--accumulate", "2"]
        let one = try CommandLineTool.run(MPIRun.trainArguments(output: single, steps: 10, extra: extra))
        try #require(one.status == 0, "single run failed: \(one.output)")
        let two = try MPIRun.run(processes: 2, MPIRun.trainArguments(output: parallel, steps: 10, extra: extra))
        try #require(two.status == 0, "mpirun -np 2 failed: \(two.output)")
        let difference = MPIRun.maxRelativeDifference(
            try MPIRun.weights(MPIRun.checkpoint(parallel, step: 10)),
            try MPIRun.weights(MPIRun.checkpoint(single, step: 10)))
        print("max relative weight difference, accumulation 2, N = 1 vs 2: \(difference)")
        #expect(difference <= 1e-5)
    }

    @Test(
        "two hosts (network namespaces joined by a veth pair, Open MPI over TCP) train the single-process model",
        .enabled(if: NetworkNamespaces.available, "needs root, iproute2 and mpirun to make two network namespaces"))
    func twoHosts() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = CommandLineTool.packageRoot.appendingPathComponent("scripts/netns-two-hosts")
        process.arguments = [CommandLineTool.binary.path] + MPIRun.trainArguments(output: output, steps: 20)
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "two-host run failed: \(text)")
        let difference = MPIRun.maxRelativeDifference(
            try MPIRun.weights(MPIRun.checkpoint(output, step: 20)),
            try MPIRun.weights(MPIRun.checkpoint(Self.reference, step: 20)))
        print("max relative weight difference, two namespaces over TCP vs 1 process: \(difference)")
        #expect(difference <= 1e-5)
    }

    @Test("2 processes for 10 steps, then 1 for 10 more, equals 20 single-process steps")
    func resumeAcrossN() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let first = try MPIRun.run(processes: 2, MPIRun.trainArguments(output: output, steps: 10))
        try #require(first.status == 0, "mpirun -np 2 failed: \(first.output)")
        let second = try CommandLineTool.run(MPIRun.trainArguments(output: output, steps: 20, extra: ["--resume"]))
        try #require(second.status == 0, "resume failed: \(second.output)")
        #expect(second.output.contains("resumed from") && second.output.contains("at step 10"))
        let difference = MPIRun.maxRelativeDifference(
            try MPIRun.weights(MPIRun.checkpoint(output, step: 20)),
            try MPIRun.weights(MPIRun.checkpoint(Self.reference, step: 20)))
        print("max relative weight difference, 2 then 1 processes vs 1: \(difference)")
        #expect(difference <= 1e-5)
    }

    @Test("a batch not divisible by the process count is refused at start, naming the values")
    func refusesIndivisibleBatch() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let (status, text) = try MPIRun.run(processes: 2, MPIRun.trainArguments(output: output, steps: 2, batch: 9))
        #expect(status != 0)
        #expect(text.contains("batch size 9 with 1 micro-batch(es) cannot be split evenly over 2 processes"), "output: \(text)")
    }

    @Test("ranks with different configurations are refused at start, naming the ranks")
    func refusesConfigurationMismatch() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        // Rank 1 gets another seed through a per-rank wrapper (mpirun's MPMD ':' syntax).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MPIRun.mpirun!)
        let args = MPIRun.trainArguments(output: output, steps: 2)
        var other = args
        other[other.firstIndex(of: "--seed")! + 1] = "6"
        process.arguments =
            [
                "--allow-run-as-root", "--oversubscribe", "-x", "DDPM_NUM_THREADS=1",
                "-np", "1", CommandLineTool.binary.path,
            ] + args + [":", "-np", "1", CommandLineTool.binary.path] + other
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(
            text.contains("the training configuration hash differs between ranks: rank 0: 0x") && text.contains("rank 1: 0x"),
            "output: \(text)")
    }

    @Test("a rank that cannot read the data stops every rank at start, with its reason")
    func refusesUnreadableData() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let args = MPIRun.trainArguments(output: output, steps: 2)
        var other = args
        other[other.firstIndex(of: "--data")! + 1] = "/nonexistent-ddpm-rank-data"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MPIRun.mpirun!)
        process.arguments =
            [
                "--allow-run-as-root", "--oversubscribe", "-x", "DDPM_NUM_THREADS=1",
                "-np", "1", CommandLineTool.binary.path,
            ] + args + [":", "-np", "1", CommandLineTool.binary.path] + other
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains("rank 1: cannot read the data") && text.contains("/nonexistent-ddpm-rank-data"), "output: \(text)")
    }

    @Test("a NaN on one rank stops every rank the same step, with nothing saved")
    func nanOnOneRank() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let (status, text) = try MPIRun.run(processes: 2, MPIRun.trainArguments(output: output, steps: 20), fault: "nan:1:4")
        #expect(status != 0)
        #expect(text.contains("Step 4: the loss is NaN or infinite; stopped without saving"), "output: \(text)")
        let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: output.appendingPathComponent("checkpoints").path)) ?? []
        #expect(checkpoints.isEmpty, "saved: \(checkpoints)")
    }

    @Test("weights that drift apart on one rank stop the run at the next checksum, naming the rank")
    func weightsChecksum() throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let (status, text) = try MPIRun.run(
            processes: 3, MPIRun.trainArguments(output: output, steps: 20, extra: ["--checksum-every", "4"]),
            fault: "perturb:2:5")
        #expect(status != 0)
        #expect(
            text.contains("the weights checksum at step 8 differs between ranks: rank 0: 0x") && text.contains("rank 2: 0x")
                && !text.contains("rank 1: 0x"), "output: \(text)")
    }

    @Test(
        "kill -9 of one rank ends the job within 60 s with a message; the last checkpoint stays intact",
        arguments: [1, 0])  // 0 is the rank that writes the checkpoints
    func killedRank(_ victimRank: Int) throws {
        let output = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        var args = MPIRun.trainArguments(output: output, steps: 1_000_000)
        args[args.firstIndex(of: "--checkpoint-every")! + 1] = "5"
        let job = MPIRun.launch(processes: 2, args)
        let pipe = job.standardOutput as! Pipe
        let text = LockedText()
        pipe.fileHandleForReading.readabilityHandler = { text.append($0.availableData) }
        // Wait for checkpoints, then kill the rank (found by its OMPI_COMM_WORLD_RANK).
        let checkpoints = output.appendingPathComponent("checkpoints")
        let waitStart = Date()
        func saved() -> [URL] {
            ((try? FileManager.default.contentsOfDirectory(at: checkpoints, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.pathExtension == "safetensors" }
        }
        while saved().count < 2 && Date().timeIntervalSince(waitStart) < 40 && job.isRunning { usleep(50_000) }
        try #require(saved().count >= 2, "no checkpoint after 40 s: \(text.value)")
        let victim = try #require(rank(victimRank, childOf: job.processIdentifier), "rank \(victimRank) not found")
        let killed = Date()
        kill(victim, SIGKILL)
        while job.isRunning && Date().timeIntervalSince(killed) < 60 { usleep(50_000) }
        let seconds = Date().timeIntervalSince(killed)
        if job.isRunning { job.terminate() }
        job.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        print("job ended \(seconds) s after kill -9 of rank \(victimRank), status \(job.terminationStatus)")
        #expect(seconds < 60)
        #expect(job.terminationStatus != 0)
        #expect(text.value.contains("signal 9") || text.value.contains("Killed"), "output: \(text.value)")
        // Every checkpoint left is complete (atomic writes) and loads.
        var last = 0
        for url in saved() {
            let contents = try Checkpoint.load(url)
            #expect(url.lastPathComponent == "step-\(contents.step).safetensors")
            last = max(last, contents.step)
        }
        guard victimRank == 1 else { return }
        // --resume (one process) from the last checkpoint continues exactly: 2 more steps equal an
        // uninterrupted single-process run to the same step.
        var resumeArgs = args
        resumeArgs[resumeArgs.firstIndex(of: "--steps")! + 1] = "\(last + 2)"
        let resumed = try CommandLineTool.run(resumeArgs + ["--resume"])
        try #require(resumed.status == 0, "resume failed: \(resumed.output)")
        let straight = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: straight) }
        var straightArgs = resumeArgs
        straightArgs[straightArgs.firstIndex(of: "--output")! + 1] = straight.path
        let reference = try CommandLineTool.run(straightArgs)
        try #require(reference.status == 0, "reference failed: \(reference.output)")
        let difference = MPIRun.maxRelativeDifference(
            try MPIRun.weights(MPIRun.checkpoint(output, step: last + 2)),
            try MPIRun.weights(MPIRun.checkpoint(straight, step: last + 2)))
        print("after kill -9 at step ≥ \(last): resumed vs uninterrupted, max relative weight difference \(difference)")
        #expect(difference <= 1e-5)
    }

    /// The child of `parent` whose environment says OMPI_COMM_WORLD_RANK=`rank`.
    func rank(_ rank: Int, childOf parent: Int32) -> Int32? {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            if environ.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }) {
                return pid
            }
        }
        return nil
    }
}

/// Output collected from a pipe's handler thread.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }
    var value: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
