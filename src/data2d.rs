//! The 2-D spiral of the reference's Fig. 4 (Sohl-Dickstein et al.'s swiss roll, seen from above):
//! θ = 1.5π(1 + 2u), x = (θ cos θ, θ sin θ) / 10, with a little Gaussian jitter.

use crate::noise::NormalStream;

pub const JITTER: f64 = 0.02;

/// `n` spiral points, seeded; row-major [n, 2].
pub fn spiral(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = NormalStream::new(seed, 0x5_b1_a1);
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let theta = 1.5 * std::f64::consts::PI * (1.0 + 2.0 * rng.next_uniform());
        let (x, y) = (theta * libm::cos(theta) / 10.0, theta * libm::sin(theta) / 10.0);
        out.push((x + JITTER * rng.next_normal() as f64) as f32);
        out.push((y + JITTER * rng.next_normal() as f64) as f32);
    }
    out
}

/// Sliced Wasserstein-1 distance between two point sets [n, 2] of equal size, over
/// `projections` evenly spaced directions: the spiral's quality figure.
pub fn sliced_wasserstein(a: &[f32], b: &[f32], projections: usize) -> f64 {
    assert_eq!(a.len(), b.len(), "equal sizes");
    let n = a.len() / 2;
    let mut total = 0.0;
    for k in 0..projections {
        let angle = std::f64::consts::PI * k as f64 / projections as f64;
        let (c, s) = (libm::cos(angle), libm::sin(angle));
        let project = |p: &[f32]| -> Vec<f64> {
            let mut v: Vec<f64> = p.chunks_exact(2).map(|q| q[0] as f64 * c + q[1] as f64 * s).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let (pa, pb) = (project(a), project(b));
        total += pa.iter().zip(&pb).map(|(x, y)| (x - y).abs()).sum::<f64>() / n as f64;
    }
    total / projections as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiral_radius_and_distance() {
        let points = spiral(2000, 1);
        let radius = |p: &[f32]| ((p[0] * p[0] + p[1] * p[1]) as f64).sqrt();
        assert!(points.chunks_exact(2).all(|p| (0.4..1.45).contains(&radius(p))));
        let floor = sliced_wasserstein(&points, &spiral(2000, 2), 32);
        let gaussian: Vec<f32> = {
            let mut s = NormalStream::new(3, 0);
            (0..4000).map(|_| s.next_normal()).collect()
        };
        let far = sliced_wasserstein(&points, &gaussian, 32);
        assert!(floor < 0.05 && far > 5.0 * floor, "floor {floor}, gaussian {far}");
    }
}
