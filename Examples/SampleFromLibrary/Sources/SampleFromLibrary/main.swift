import Datasets
import Foundation
import Pipelines

// Sixteen Fashion-MNIST images from the model swift-ddpm ships (pretrained/fashion-mnist), drawn
// with DDIM (η = 1, 50 steps unless given), written as one PNG grid.
//
//     swift run -c release SampleFromLibrary <swift-ddpm>/pretrained/fashion-mnist grid.png [steps]
let arguments = Array(CommandLine.arguments.dropFirst())
let modelDirectory = arguments.count > 0 ? arguments[0] : "pretrained/fashion-mnist"
let output = URL(fileURLWithPath: arguments.count > 1 ? arguments[1] : "grid.png")
let steps = arguments.count > 2 ? Int(arguments[2]) ?? 50 : 50

let model = try LoadedModel(modelDirectory)
let pipeline = try model.pipeline()
let size = model.unet.configuration.sampleSize ?? 32
let noise = pipeline.initialNoise(count: 16, imageSize: size, seed: 0)
let result = try pipeline.sample(from: noise, sampler: .ddim(steps: steps, eta: 1), seed: 1)
try ImageWriter.writeGrid(result.sample, to: output, columns: 4)
print("wrote \(output.path): \(result.sample.shape) from \(model.source)")
