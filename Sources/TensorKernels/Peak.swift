import CMachine

extension Kernels {
    /// Measured FMA peak of this machine in GFLOP/s on `threads` threads (C loop in CMachine),
    /// so benchmarks report "% of peak" against what the cores really do.
    package static func measureFMAPeak(threads: Int, iterations: Int = 20_000_000) -> Double {
        let perThread = UnsafeMutablePointer<Double>.allocate(capacity: threads)
        defer { perThread.deallocate() }
        DispatchQueueShim.concurrent(threads) { t in perThread[t] = ddpm_fma_peak_gflops(iterations) }
        return (0..<threads).map { perThread[$0] }.reduce(0, +)
    }
}
