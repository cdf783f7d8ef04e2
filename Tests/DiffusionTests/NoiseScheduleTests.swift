import Diffusion
import Foundation
import Tensors
import Testing

@Suite("NoiseSchedule (Ho et al. §4; Nichol & Dhariwal eq. 17)")
struct NoiseScheduleTests {
    @Test("Linear schedule: β_t = 1e-4 + (t−1)(0.02 − 1e-4)/999 and ᾱ_t = ∏(1 − β_s), in Float64 to 1e-12")
    func linearClosedForm() {
        let s = paperSchedule
        #expect(s.timestepCount == 1000)
        #expect(s.beta(1) == 1e-4 && s.beta(1000) == 0.02)
        var product = 1.0
        for t in 1...1000 {
            let beta = 1e-4 + Double(t - 1) * (0.02 - 1e-4) / 999
            product *= 1 - beta
            #expect(abs(s.beta(t) - beta) < 1e-12)
            #expect(abs(s.alphaBar(t) - product) < 1e-12)
            #expect(abs(s.alpha(t) - (1 - beta)) < 1e-12)
        }
        #expect(abs(s.alphaBar(1000) - 4.035829e-5) < 1e-10)  // ᾱ_T: x_T is almost pure noise
    }

    @Test("Derived quantities: ᾱ_0 = 1, β̃_1 = 0, β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t, eq. 7 coefficients, clipped log")
    func derivedQuantities() {
        let s = paperSchedule
        #expect(s.alphaBarPrevious(1) == 1 && s.betaTilde(1) == 0)
        #expect(s.logBetaTildeClipped(1) == Foundation.log(s.betaTilde(2)))
        for t in [2, 3, 10, 500, 999, 1000] {
            let (ab, abPrev, beta) = (s.alphaBar(t), s.alphaBar(t - 1), s.beta(t))
            #expect(abs(s.alphaBarPrevious(t) - abPrev) < 1e-15)
            #expect(abs(s.betaTilde(t) - (1 - abPrev) / (1 - ab) * beta) < 1e-15)
            #expect(abs(s.logBetaTildeClipped(t) - Foundation.log(s.betaTilde(t))) < 1e-12)
            #expect(abs(s.posteriorMeanCoefficientX0(t) - abPrev.squareRoot() * beta / (1 - ab)) < 1e-12)
            #expect(abs(s.posteriorMeanCoefficientXt(t) - (1 - beta).squareRoot() * (1 - abPrev) / (1 - ab)) < 1e-12)
            #expect(abs(s.sqrtAlphaBar(t) * s.sqrtAlphaBar(t) + s.sqrtOneMinusAlphaBar(t) * s.sqrtOneMinusAlphaBar(t) - 1) < 1e-12)
            #expect(abs(s.sqrtRecipAlphaBar(t) - 1 / ab.squareRoot()) < 1e-9)
            #expect(abs(s.sqrtRecipAlphaBarMinusOne(t) - (1 / ab - 1).squareRoot()) < 1e-9)
        }
        #expect(abs(s.posteriorMeanCoefficientX0(1) - 1) < 1e-12 && s.posteriorMeanCoefficientXt(1) == 0)
    }

    @Test("Cosine schedule: ᾱ_t = f(t)/f(0) until β hits the 0.999 cap")
    func cosineClosedForm() throws {
        let s = try NoiseSchedule(.cosine(), timestepCount: 1000)
        func f(_ t: Double) -> Double { pow(cos((t / 1000 + 0.008) / 1.008 * .pi / 2), 2) }
        for t in [1, 2, 100, 500, 900, 990] { #expect(abs(s.alphaBar(t) - f(Double(t)) / f(0)) < 1e-12) }
        #expect(s.beta(1000) == 0.999)
        #expect(s.betas.allSatisfy { $0 > 0 && $0 <= 0.999 })
    }

    @Test("Any T works, T = 1 included")
    func anyT() throws {
        let one = try NoiseSchedule(.linear(start: 0.5, end: 0.5), timestepCount: 1)
        #expect(one.betas == [0.5] && one.alphaBar(1) == 0.5 && one.logBetaTildeClipped(1) == Foundation.log(0.5))
        let seven = try NoiseSchedule(.linear(start: 0.1, end: 0.4), timestepCount: 7)
        #expect(seven.betas.count == 7 && abs(seven.beta(4) - 0.25) < 1e-15 && seven.beta(7) == 0.4)
        #expect(try NoiseSchedule(.cosine(), timestepCount: 50).timestepCount == 50)
    }

    @Test("Schedules match diffusers' DDPMScheduler (float32 torch) to 1e-6")
    func matchesDiffusers() throws {
        for (name, kind) in [("linear", BetaSchedule.paper), ("cosine", .cosine())] {
            let s = try NoiseSchedule(kind, timestepCount: 1000)
            let betas = Fixtures.tensor("schedule.\(name).betas").scalars
            let alphaBars = Fixtures.tensor("schedule.\(name).alphas_cumprod").scalars
            let betaError = (1...1000).map { abs(Double(betas[$0 - 1]) - s.beta($0)) }.max()!
            let alphaBarError = (1...1000).map { abs(Double(alphaBars[$0 - 1]) - s.alphaBar($0)) }.max()!
            #expect(betaError < 1e-6, "\(name) β max error \(betaError)")
            #expect(alphaBarError < 1e-5, "\(name) ᾱ max error \(alphaBarError)")
        }
    }
}
