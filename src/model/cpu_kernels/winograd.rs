//! A 3×3 convolution at stride 1 with one pixel of zero padding, by Winograd's minimal filtering
//! F(2×2, 3×3) (Lavin & Gray 2016): each 2×2 block of output comes from the 4×4 block of input
//! around it with 16 multiply-adds per pair of channels where an im2col GEMM spends 36. With U
//! the filters' transforms G·g·Gᵀ and V the input blocks' Bᵀ·d·B, the 16 products U_ξ·V_ξ are
//! GEMMs over channels, and each output block is Aᵀ·M·A of its 16 sums, plus the bias.

use std::cell::RefCell;

use super::{Output, for_each_task, matmul, workers};

/// Bytes of one task's transformed input and products to aim for: they stay in L2.
const BLOCK_BYTES: usize = 512 * 1024;
/// Fewer 2×2 blocks than this in a task and its GEMMs run below the micro-kernel's pace.
const MIN_BLOCKS: usize = 16;
/// The least channels each way and output pixels (n·h·w) at which `pays`.
const MIN_CHANNELS: usize = 64;
const MIN_PIXELS: usize = 512;

/// Whether F(2×2, 3×3) beats the im2col GEMM: its transforms cost per channel (and are not
/// vectorised) what the GEMMs save per pair of channels, so it pays only with many channels and
/// blocks, and only in wasm, where the GEMM runs 4 lanes wide without fused multiply-adds.
/// Measured on faces64's ε_θ (scripts/ab-wasm.mjs, native `ddpm bench`, 2 cores): in wasm at
/// batch 8, 0.91× the im2col's time from 64 channels up, 0.98× from 32, 1.15× for every 3×3;
/// natively (AVX2, FMA) 1.1–1.25× from 64 channels up.
pub(super) fn pays([c_in, c_out]: [usize; 2], pixels: usize) -> bool {
    cfg!(target_arch = "wasm32") && c_in.min(c_out) >= MIN_CHANNELS && pixels >= MIN_PIXELS
}

/// `input` [n, c_in, h, w] convolved with `weight` [c_out, c_in, 3, 3] at stride 1 with zero
/// padding 1, plus `bias`: [n, c_out, h, w].
pub(super) fn conv3x3(input: &[f32], [n, c_in, h, w]: [usize; 4], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let c_out = bias.len();
    let filters = transformed_filters(weight, c_out, c_in);
    let (rows, cols) = (h.div_ceil(2), w.div_ceil(2));
    let blocks = rows * cols;
    let per_task = (BLOCK_BYTES / (4 * 16 * (c_in + c_out)))
        .max(MIN_BLOCKS)
        .min(blocks.div_ceil(workers().div_ceil(n)).max(MIN_BLOCKS));
    let tasks = blocks.div_ceil(per_task);
    let plane = h * w;
    let mut out = vec![0.0f32; n * c_out * plane];
    let output = Output(out.as_mut_ptr());
    for_each_task(n * tasks, |task| {
        let (sample, first) = (task / tasks, task % tasks * per_task);
        let count = per_task.min(blocks - first);
        let input = &input[sample * c_in * plane..][..c_in * plane];
        BUFFERS.with_borrow_mut(|(v, m)| {
            v.resize(16 * c_in * count, 0.0);
            m.resize(16 * c_out * count, 0.0);
            for (channel, plane_in) in input.chunks_exact(plane).enumerate() {
                for b in 0..count {
                    let [y, x] = [(first + b) / cols * 2, (first + b) % cols * 2];
                    let d = input_block(plane_in, [h, w], [y, x]);
                    for (xi, value) in input_transform(&d).into_iter().enumerate() {
                        v[(xi * c_in + channel) * count + b] = value;
                    }
                }
            }
            for xi in 0..16 {
                // SAFETY: U_ξ is [c_out, c_in], V_ξ [c_in, count] and M_ξ [c_out, count], row-major,
                // each inside its buffer; m is this thread's.
                unsafe {
                    matmul(
                        [c_out, count, c_in],
                        (m[xi * c_out * count..].as_mut_ptr(), count, 1),
                        false,
                        (filters[xi * c_out * c_in..].as_ptr(), c_in, 1),
                        (v[xi * c_in * count..].as_ptr(), count, 1),
                        1.0,
                    );
                }
            }
            for (channel, &b_out) in bias.iter().enumerate() {
                let base = (sample * c_out + channel) * plane;
                for b in 0..count {
                    let sums: [f32; 16] = std::array::from_fn(|xi| m[(xi * c_out + channel) * count + b]);
                    let [y, x] = [(first + b) / cols * 2, (first + b) % cols * 2];
                    for (dy, row) in output_transform(&sums).into_iter().enumerate() {
                        for (dx, value) in row.into_iter().enumerate() {
                            if y + dy < h && x + dx < w {
                                // SAFETY: inside the sample's plane of this channel; each 2×2 block
                                // belongs to one task.
                                unsafe { *output.at(base + (y + dy) * w + x + dx) = value + b_out };
                            }
                        }
                    }
                }
            }
        });
    });
    out
}

thread_local! {
    /// Each thread's V and M for one task, kept between calls.
    static BUFFERS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// U_ξ = (G·g·Gᵀ)_ξ for every filter g, [16, c_out, c_in]: G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
fn transformed_filters(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; 16 * c_out * c_in];
    let g_times = |[a, b, c]: [f32; 3]| [a, (a + b + c) * 0.5, (a - b + c) * 0.5, c];
    for (filter, g) in weight.chunks_exact(9).enumerate() {
        let columns = [0, 1, 2].map(|col| g_times([g[col], g[3 + col], g[6 + col]]));
        for row in 0..4 {
            let transformed = g_times([columns[0][row], columns[1][row], columns[2][row]]);
            for (col, value) in transformed.into_iter().enumerate() {
                u[(row * 4 + col) * c_out * c_in + filter] = value;
            }
        }
    }
    u
}

/// The 4×4 block of a plane whose top-left is (y − 1, x − 1), zero outside the plane.
#[inline(always)]
fn input_block(plane: &[f32], [h, w]: [usize; 2], [y, x]: [usize; 2]) -> [[f32; 4]; 4] {
    if y >= 1 && x >= 1 && y + 3 <= h && x + 3 <= w {
        return std::array::from_fn(|r| {
            let row = &plane[(y - 1 + r) * w + x - 1..][..4];
            [row[0], row[1], row[2], row[3]]
        });
    }
    std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            let (iy, ix) = ((y + r).wrapping_sub(1), (x + c).wrapping_sub(1));
            if iy < h && ix < w { plane[iy * w + ix] } else { 0.0 }
        })
    })
}

/// V = Bᵀ·d·B, flattened row-major: Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
#[inline(always)]
fn input_transform(d: &[[f32; 4]; 4]) -> [f32; 16] {
    let bt = |[a, b, c, e]: [f32; 4]| [a - c, b + c, c - b, b - e];
    let columns: [[f32; 4]; 4] = std::array::from_fn(|col| bt([d[0][col], d[1][col], d[2][col], d[3][col]]));
    let mut v = [0.0; 16];
    for row in 0..4 {
        let transformed = bt([columns[0][row], columns[1][row], columns[2][row], columns[3][row]]);
        v[row * 4..row * 4 + 4].copy_from_slice(&transformed);
    }
    v
}

/// Y = Aᵀ·M·A, 2×2: Aᵀ = [1 1 1 0; 0 1 −1 −1].
#[inline(always)]
fn output_transform(m: &[f32; 16]) -> [[f32; 2]; 2] {
    let at = |[a, b, c, e]: [f32; 4]| [a + b + c, b - c - e];
    let columns: [[f32; 2]; 4] = std::array::from_fn(|col| at([m[col], m[4 + col], m[8 + col], m[12 + col]]));
    std::array::from_fn(|row| at([columns[0][row], columns[1][row], columns[2][row], columns[3][row]]))
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Distribution, Tensor, Tolerance};

    use super::super::{flex_f32, slice};

    /// F(2×2, 3×3) against burn's conv2d whatever `pays` decides: odd and even sizes, planes
    /// smaller than a block, one channel, blocks split over tasks on three threads.
    #[test]
    fn winograd_matches_burns_conv2d() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let device = burn::tensor::Device::flex();
            let random = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            for ([n, c_in, h, w], c_out) in [
                ([2, 3, 9, 7], 5),
                ([1, 1, 1, 1], 1),
                ([1, 4, 2, 3], 2),
                ([3, 8, 40, 34], 6),
            ] {
                let (x, weight) = (random([n, c_in, h, w]), random([c_out, c_in, 3, 3]));
                let bias = random([1, 1, 1, c_out]).reshape([c_out]);
                let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
                let reference = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
                let [x, weight, bias] =
                    [x, weight, bias.reshape([1, 1, 1, c_out])].map(|t| flex_f32(t).expect("flex f32"));
                let ours = super::conv3x3(slice(&x), [n, c_in, h, w], slice(&weight), slice(&bias));
                let ours = Tensor::<1>::from_floats(ours.as_slice(), &device).reshape([n, c_out, h, w]);
                // The transforms scale values by up to 4 each way before the sums.
                let depth = (c_in * 9) as f64;
                ours.into_data()
                    .assert_approx_eq::<f32>(&reference.into_data(), Tolerance::absolute(1e-5 * depth));
            }
        });
    }
}
