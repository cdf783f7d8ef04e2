import NN
import Tensors

// The mixed blocks of Inception-v3 (Szegedy et al. 2016, fig. 5–7) as pytorch-fid ports the
// TensorFlow 2015-12-05 graph: torchvision's InceptionA–E layers and key names, with the
// FID variants' pooling. Concatenation order of the branches is torchvision's.

/// 3×3 average pooling, stride 1, padding 1, border windows averaging only in-bounds pixels
/// (TensorFlow 'SAME' pooling; pytorch-fid's `count_include_pad=False`).
private func sameAveragePool(_ x: Tensor) -> Tensor {
    x.averagePooled(kernelSize: 3, stride: 1, padding: 1, countingPadding: false)
}

/// FIDInceptionA (Mixed_5b–5d): 1×1, 5×5, double 3×3 and pool branches; 224 + `poolFeatures` channels out.
package final class FIDInceptionA: Layer {
    let branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branchPool: BasicConv2d

    package init(inputChannels c: Int, poolFeatures: Int) {
        branch1x1 = BasicConv2d(c, 64, kernel: 1)
        branch5x5_1 = BasicConv2d(c, 48, kernel: 1)
        branch5x5_2 = BasicConv2d(48, 64, kernel: 5, padding: 2)
        branch3x3dbl_1 = BasicConv2d(c, 64, kernel: 1)
        branch3x3dbl_2 = BasicConv2d(64, 96, kernel: 3, padding: 1)
        branch3x3dbl_3 = BasicConv2d(96, 96, kernel: 3, padding: 1)
        branchPool = BasicConv2d(c, poolFeatures, kernel: 1)
    }

    package var children: [(key: String, layer: any Layer)] {
        [
            ("branch1x1", branch1x1), ("branch5x5_1", branch5x5_1), ("branch5x5_2", branch5x5_2),
            ("branch3x3dbl_1", branch3x3dbl_1), ("branch3x3dbl_2", branch3x3dbl_2), ("branch3x3dbl_3", branch3x3dbl_3),
            ("branch_pool", branchPool),
        ]
    }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.concatenated(
            [
                branch1x1(x), branch5x5_2(branch5x5_1(x)), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                branchPool(sameAveragePool(x)),
            ], alongAxis: 1)
    }
}

/// InceptionB (Mixed_6a): grid reduction by stride-2 3×3 convolutions and a 3×3 max pool; 480 + Cin out.
package final class InceptionB: Layer {
    let branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3: BasicConv2d

    package init(inputChannels c: Int) {
        branch3x3 = BasicConv2d(c, 384, kernel: 3, stride: 2)
        branch3x3dbl_1 = BasicConv2d(c, 64, kernel: 1)
        branch3x3dbl_2 = BasicConv2d(64, 96, kernel: 3, padding: 1)
        branch3x3dbl_3 = BasicConv2d(96, 96, kernel: 3, stride: 2)
    }

    package var children: [(key: String, layer: any Layer)] {
        [
            ("branch3x3", branch3x3), ("branch3x3dbl_1", branch3x3dbl_1), ("branch3x3dbl_2", branch3x3dbl_2),
            ("branch3x3dbl_3", branch3x3dbl_3),
        ]
    }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.concatenated(
            [
                branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), x.maxPooled(kernelSize: 3, stride: 2),
            ], alongAxis: 1)
    }
}

/// FIDInceptionC (Mixed_6b–6e): factorised 7×7 branches (1×7 and 7×1 convolutions); 768 channels out.
package final class FIDInceptionC: Layer {
    let branch1x1, branch7x7_1, branch7x7_2, branch7x7_3: BasicConv2d
    let branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branchPool: BasicConv2d

    package init(inputChannels c: Int, channels7x7 c7: Int) {
        let row = (height: 1, width: 7)
        let column = (height: 7, width: 1)
        branch1x1 = BasicConv2d(c, 192, kernel: 1)
        branch7x7_1 = BasicConv2d(c, c7, kernel: 1)
        branch7x7_2 = BasicConv2d(c7, c7, kernel: row, padding: (0, 3))
        branch7x7_3 = BasicConv2d(c7, 192, kernel: column, padding: (3, 0))
        branch7x7dbl_1 = BasicConv2d(c, c7, kernel: 1)
        branch7x7dbl_2 = BasicConv2d(c7, c7, kernel: column, padding: (3, 0))
        branch7x7dbl_3 = BasicConv2d(c7, c7, kernel: row, padding: (0, 3))
        branch7x7dbl_4 = BasicConv2d(c7, c7, kernel: column, padding: (3, 0))
        branch7x7dbl_5 = BasicConv2d(c7, 192, kernel: row, padding: (0, 3))
        branchPool = BasicConv2d(c, 192, kernel: 1)
    }

    package var children: [(key: String, layer: any Layer)] {
        [
            ("branch1x1", branch1x1), ("branch7x7_1", branch7x7_1), ("branch7x7_2", branch7x7_2),
            ("branch7x7_3", branch7x7_3), ("branch7x7dbl_1", branch7x7dbl_1), ("branch7x7dbl_2", branch7x7dbl_2),
            ("branch7x7dbl_3", branch7x7dbl_3), ("branch7x7dbl_4", branch7x7dbl_4), ("branch7x7dbl_5", branch7x7dbl_5),
            ("branch_pool", branchPool),
        ]
    }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        let double = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))))
        return Tensor.concatenated(
            [
                branch1x1(x), branch7x7_3(branch7x7_2(branch7x7_1(x))), double, branchPool(sameAveragePool(x)),
            ], alongAxis: 1)
    }
}

/// InceptionD (Mixed_7a): grid reduction with a 3×3 and a 7×7-then-3×3 branch; 512 + Cin out.
package final class InceptionD: Layer {
    let branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4: BasicConv2d

    package init(inputChannels c: Int) {
        branch3x3_1 = BasicConv2d(c, 192, kernel: 1)
        branch3x3_2 = BasicConv2d(192, 320, kernel: 3, stride: 2)
        branch7x7x3_1 = BasicConv2d(c, 192, kernel: 1)
        branch7x7x3_2 = BasicConv2d(192, 192, kernel: (1, 7), padding: (0, 3))
        branch7x7x3_3 = BasicConv2d(192, 192, kernel: (7, 1), padding: (3, 0))
        branch7x7x3_4 = BasicConv2d(192, 192, kernel: 3, stride: 2)
    }

    package var children: [(key: String, layer: any Layer)] {
        [
            ("branch3x3_1", branch3x3_1), ("branch3x3_2", branch3x3_2), ("branch7x7x3_1", branch7x7x3_1),
            ("branch7x7x3_2", branch7x7x3_2), ("branch7x7x3_3", branch7x7x3_3), ("branch7x7x3_4", branch7x7x3_4),
        ]
    }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.concatenated(
            [
                branch3x3_2(branch3x3_1(x)), branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x)))),
                x.maxPooled(kernelSize: 3, stride: 2),
            ], alongAxis: 1)
    }
}

/// FIDInceptionE_1 (Mixed_7b, `.average`) and FIDInceptionE_2 (Mixed_7c, `.max`): expanded 1×3/3×1
/// branches; 2048 channels out. The TF graph max-pools in the last block's pool branch, a quirk
/// pytorch-fid keeps.
package final class FIDInceptionE: Layer {
    package enum Pooling: Sendable { case average, max }
    let pooling: Pooling
    let branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b: BasicConv2d
    let branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branchPool: BasicConv2d

    package init(inputChannels c: Int, pooling: Pooling) {
        self.pooling = pooling
        branch1x1 = BasicConv2d(c, 320, kernel: 1)
        branch3x3_1 = BasicConv2d(c, 384, kernel: 1)
        branch3x3_2a = BasicConv2d(384, 384, kernel: (1, 3), padding: (0, 1))
        branch3x3_2b = BasicConv2d(384, 384, kernel: (3, 1), padding: (1, 0))
        branch3x3dbl_1 = BasicConv2d(c, 448, kernel: 1)
        branch3x3dbl_2 = BasicConv2d(448, 384, kernel: 3, padding: 1)
        branch3x3dbl_3a = BasicConv2d(384, 384, kernel: (1, 3), padding: (0, 1))
        branch3x3dbl_3b = BasicConv2d(384, 384, kernel: (3, 1), padding: (1, 0))
        branchPool = BasicConv2d(c, 192, kernel: 1)
    }

    package var children: [(key: String, layer: any Layer)] {
        [
            ("branch1x1", branch1x1), ("branch3x3_1", branch3x3_1), ("branch3x3_2a", branch3x3_2a),
            ("branch3x3_2b", branch3x3_2b), ("branch3x3dbl_1", branch3x3dbl_1), ("branch3x3dbl_2", branch3x3dbl_2),
            ("branch3x3dbl_3a", branch3x3dbl_3a), ("branch3x3dbl_3b", branch3x3dbl_3b), ("branch_pool", branchPool),
        ]
    }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        let single = branch3x3_1(x)
        let double = branch3x3dbl_2(branch3x3dbl_1(x))
        let pooled = pooling == .average ? sameAveragePool(x) : x.maxPooled(kernelSize: 3, stride: 1, padding: 1)
        return Tensor.concatenated(
            [
                branch1x1(x), branch3x3_2a(single), branch3x3_2b(single), branch3x3dbl_3a(double), branch3x3dbl_3b(double),
                branchPool(pooled),
            ], alongAxis: 1)
    }
}
