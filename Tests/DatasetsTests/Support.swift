import Datasets
import Foundation
import Testing

// Fixtures come from scripts/reference/make_data_fixtures.py; expected.json holds the pixel
// values each image must decode to (PNG exact, JPEG as Pillow decodes it).

enum Fixtures {
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }
    static var images: URL { root.appendingPathComponent("images") }
    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    struct ExpectedImage: Decodable {
        let width: Int
        let height: Int
        let channels: Int
        let pixels: [UInt8]
    }

    struct Reference: Decodable {
        let images: [String: ExpectedImage]
        let resize: Resize
        let idxResize: Resize
        struct Resize: Decodable {
            let size: Int
            let pixels: [UInt8]
        }
    }

    static let expected: Reference = {
        let data = try! Data(contentsOf: root.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Reference.self, from: data)
    }()
}

/// The error `body` throws, or nil.
func datasetError(_ body: () throws -> Void) -> DatasetError? {
    do { try body() } catch let error as DatasetError { return error } catch {
        Issue.record("expected a DatasetError, got \(error)")
    }
    return nil
}

/// Largest absolute difference between two byte arrays of equal length.
func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

/// Sizes as an array to compare in one expectation (array literals of sizes are ambiguous to
/// the #expect macro's type checker).
func dims(_ values: Int...) -> [Int] { values }
