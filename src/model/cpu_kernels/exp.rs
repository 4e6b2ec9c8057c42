//! e^x and SiLU on f32 without libm calls, so that loops over them vectorise.

/// x·σ(x) = x / (1 + e^−x).
#[inline(always)]
pub(super) fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// e^x for f32 without a libm call, so loops over it vectorise: Cephes' `expf` (x = n·ln2 + r,
/// a degree-6 polynomial for e^r, 2^n built in the exponent bits); within 2 ulp. The input is
/// clamped to [−87, 88] (e^88 ≈ 1.7e38), with selects, not `f32::clamp`, so NaN passes through.
#[inline(always)]
#[allow(clippy::manual_clamp)] // `f32::clamp` would not pass NaN through as the selects do
pub(super) fn exp(x: f32) -> f32 {
    // 1.5·2²³: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUNDER: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = if x < -87.0 {
        -87.0
    } else if x > 88.0 {
        88.0
    } else {
        x
    };
    let shifted = x * std::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    p = p * r * r + r + 1.0;
    let exponent = (shifted.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32) + 127;
    p * f32::from_bits((exponent << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::{exp, silu};

    #[test]
    fn exp_is_within_two_ulp_and_passes_nan() {
        for i in -8700..8800 {
            let x = i as f32 / 100.0 + 0.003;
            let (ours, libm) = (exp(x), x.exp());
            assert!(((ours - libm) / libm).abs() < 2.5e-7, "exp({x}) = {ours}, libm {libm}");
        }
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(-1000.0), (-87.0f32).exp());
        assert!(exp(1000.0).is_finite());
        assert!(silu(f32::NAN).is_nan());
        assert!((silu(-200.0)).abs() < 1e-30 && silu(200.0) == 200.0);
    }
}
