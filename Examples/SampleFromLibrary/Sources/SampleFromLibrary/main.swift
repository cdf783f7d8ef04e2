import Datasets
import Foundation
import Pipelines

// Sixteen Fashion-MNIST images from the model swift-ddpm ships (pretrained/fashion-mnist), drawn
// with 50 DDIM steps (η = 1), written as one PNG grid.
//
//     swift run -c release SampleFromLibrary <swift-ddpm>/pretrained/fashion-mnist grid.png
let arguments = CommandLine.arguments.dropFirst()
let modelDirectory = arguments.first ?? "pretrained/fashion-mnist"
let output = URL(fileURLWithPath: arguments.dropFirst().first ?? "grid.png")

let model = try LoadedModel(modelDirectory)
let pipeline = try model.pipeline()
let size = model.unet.configuration.sampleSize ?? 32
let noise = pipeline.initialNoise(count: 16, imageSize: size, seed: 0)
let result = try pipeline.sample(from: noise, sampler: .ddim(steps: 50, eta: 1), seed: 1)
try ImageWriter.writeGrid(result.sample, to: output, columns: 4)
print("wrote \(output.path): \(result.sample.shape) from \(model.source)")
