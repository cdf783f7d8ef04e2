import Datasets
import Foundation
import SafeTensors
import Tensors

extension SamplingPipeline {
    /// x_T from a safetensors file: its tensor 'samples' or 'noise', or its only tensor, of shape
    /// `[N, C, H, W]` with the model's C; refused when any value is NaN or infinite (the whole
    /// run would be NaN).
    public func readInitialNoise(contentsOf url: URL) throws(PipelineError) -> Tensor {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: url) } catch { throw .safeTensors(error) }
        let named = ["samples", "noise"].first { file.tensors[$0] != nil } ?? (file.tensors.count == 1 ? file.tensors.keys.first : nil)
        guard let name = named, let noise = file.tensors[name] else {
            throw .missingTensor(
                path: url.path, expected: "a tensor named 'noise' or 'samples' (or a single tensor)",
                found: Array(file.tensors.keys), hint: "Save x_T as save_file({'noise': x}).")
        }
        let channels = unet.configuration.inChannels
        guard noise.rank == 4, noise.shape[1] == channels else {
            throw .mismatch(what: "\(url.path): tensor '\(name)' (x_T)", expected: "shape [N, \(channels), H, W]", actual: "\(noise.shape)")
        }
        let scalars = noise.scalars
        if let first = scalars.firstIndex(where: { !$0.isFinite }) {
            let count = scalars.lazy.filter { !$0.isFinite }.count
            throw .unreadable(
                path: url.path,
                reason: "tensor '\(name)' has \(count) NaN or infinite values (the first at flat index \(first)); "
                    + "x_T must be finite standard-normal noise.")
        }
        return noise
    }

    /// The side of the images this pipeline draws (the U-Net's sample_size; 32 when unset).
    public var imageSize: Int { unet.configuration.sampleSize ?? 32 }
}

/// The samples file `ddpm sample` writes and `ddpm evaluate --samples` reads.
public enum SamplesFile {
    /// Tensor 'samples' `[N ≥ 10, 1 or 3, H, W]` in [−1, 1] (10: one per Inception Score split).
    public static func read(contentsOf url: URL) throws(PipelineError) -> Tensor {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: url) } catch { throw .safeTensors(error) }
        guard let tensor = file.tensors["samples"] else {
            throw .missingTensor(
                path: url.path, expected: "a tensor 'samples'", found: Array(file.tensors.keys),
                hint: "Write it with ddpm sample or save_file({'samples': x}).")
        }
        guard tensor.rank == 4, tensor.shape[1] == 1 || tensor.shape[1] == 3, tensor.shape[0] >= 10 else {
            throw .mismatch(what: "\(url.path): 'samples'", expected: "shape [N >= 10, 1 or 3, H, W] in [-1, 1]", actual: "\(tensor.shape)")
        }
        return tensor
    }
}

/// Creates an output directory (and its parents), naming it and the file system's reason when it cannot.
public func createOutputDirectory(_ url: URL) throws(PipelineError) {
    do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
        throw .cannotCreateDirectory(path: url.path, reason: (error as NSError).localizedDescription)
    }
}

extension ImageSource {
    /// This source's images at a model's `size` and `channels`, refused when their channel count
    /// is not the model's `in_channels`; `imageFileAlternative` adds that an image file would be converted.
    public func modelImages(train: Bool, size: Int, channels: Int, imageFileAlternative: Bool = false) throws(PipelineError) -> ImageSet {
        let set: ImageSet
        do { set = try images(train: train, size: size, channels: channels) } catch let error as PipelineError {
            throw error
        } catch let error as DatasetError { throw .dataset(error) } catch { throw .invalid("\(error)") }
        guard set.channels == channels else {
            throw .invalid(
                "\(describe(train: train)) has \(set.channels)-channel images but the model takes \(channels) (in_channels); "
                    + "use a model trained on \(set.channels)-channel images"
                    + (imageFileAlternative ? ", or pass an image file (it is converted to \(channels) channels)." : "."))
        }
        return set
    }
}
