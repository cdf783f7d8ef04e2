import CMachine

extension Kernels {
    /// Measured FMA peak of this machine in GFLOP/s on `threads` threads (C loop in CMachine),
    /// so benchmarks report "% of peak" against what the cores really do. The best of `trials`
    /// runs: on a shared virtual machine a single short run often lands on a descheduled core.
    package static func measureFMAPeak(threads: Int, iterations: Int = 20_000_000, trials: Int = 5) -> Double {
        let perThread = UnsafeMutablePointer<Double>.allocate(capacity: threads)
        defer { perThread.deallocate() }
        var best = 0.0
        for _ in 0..<trials {
            DispatchQueueShim.concurrent(threads) { t in perThread[t] = ddpm_fma_peak_gflops(iterations) }
            best = max(best, (0..<threads).map { perThread[$0] }.reduce(0, +))
        }
        return best
    }
}
