import DataParallel
import Datasets
import Foundation

extension TrainingRecipe {
    /// Refuses, at start, ranks that would not train the same model: the training and model
    /// configurations, the data (size and pixels) and the running binary must hash the same on
    /// every rank, else the message names the ranks and their values.
    public func agreeAcrossRanks(_ comm: Communicator, images: ImageSet) throws(PipelineError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let binary = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/exe"))) ?? Data()
        let hashes: [(UInt64, String)] = [
            (fnv((try? encoder.encode(training)) ?? Data()), "the training configuration hash"),
            (fnv((try? encoder.encode(model)) ?? Data()), "the model configuration hash"),
            (fnv(Data("\(images.count) \(images.channels)x\(images.height)x\(images.width)".utf8)), "the data set (count and size) hash"),
            (fnv(images.pixels), "the data set's pixel hash"),
            (
                fnv(images.labels.flatMap { label in (0..<4).map { UInt8(truncatingIfNeeded: label >> (8 * $0)) } }),
                "the data set's label hash"
            ),
            (fnv(binary), "the ddpm binary's hash"),
        ]
        do { for (hash, what) in hashes { try comm.agree(hash, what: what) } } catch { throw .distributed(error) }
    }
}

extension PipelineError {
    /// Whether every rank of a data-parallel run reaches this error together (a disagreement, a
    /// NaN in the averaged loss), so one rank's report speaks for all.
    public var isCollective: Bool {
        switch self {
        case .nonFinite, .distributed: true
        default: false
        }
    }
}

/// FNV-1a, 64 bits: a fast hash for comparing bytes across ranks (not for security).
private func fnv<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}
