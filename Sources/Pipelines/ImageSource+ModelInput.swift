import Datasets
import Foundation
import Tensors

extension ImageSource {
    /// One model input `[1, channels, size, size]` in [−1, 1] named on the command line: an image
    /// file (PNG or JPEG, converted to `channels`, resized and centre-cropped to `size`), or with
    /// `dataset` (fashion-mnist, mnist, cifar10 or folder; `data` its location) the image at that
    /// index of its test split (a folder: the files sorted by path).
    public static func modelInput(
        _ spec: String, dataset: String?, data: String?, size: Int,
        channels: Int
    ) throws(PipelineError) -> Tensor {
        guard let dataset else { return try Interpolation.image(contentsOf: URL(fileURLWithPath: spec), size: size, channels: channels) }
        guard let index = Int(spec), index >= 0 else {
            throw .invalid("with --dataset the source is an image index (0, 1, …); got '\(spec)'.")
        }
        let source = try named(dataset, path: data)
        if case .imageFolder(let directory) = source {  // only the one file is decoded
            let files: [URL]
            do { files = try ImageFolder.imageFiles(in: directory) } catch { throw .dataset(error) }
            guard index < files.count else {
                throw .invalid(
                    "image index \(index) is out of range: \(directory.path) holds \(files.count) images (sorted by path, 0…\(files.count - 1))."
                )
            }
            return try Interpolation.image(contentsOf: files[index], size: size, channels: channels)
        }
        let set = try source.modelImages(train: false, size: size, channels: channels, imageFileAlternative: true)
        return try Interpolation.image(set, at: index, size: size, channels: channels)
    }
}
