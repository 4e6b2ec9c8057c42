//! A 3×3 convolution at stride 1 with one pixel of zero padding, by Winograd's minimal filtering
//! F(2×2, 3×3) (Lavin & Gray 2016): each 2×2 block of output comes from the 4×4 block of input
//! around it with 16 multiply-adds per pair of channels where an im2col GEMM spends 36. With U
//! the filters' transforms G·g·Gᵀ and V the input blocks' Bᵀ·d·B, the 16 products U_ξ·V_ξ are
//! GEMMs over channels, and each output block is Aᵀ·M·A of its 16 sums, plus the bias.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use burn::backend::flex::FlexTensor;

use super::{Output, for_each_task, matmul, slice, workers};

/// Bytes of one task's transformed input and products to aim for: they stay in L2.
const BLOCK_BYTES: usize = 512 * 1024;
/// The least channels each way and output pixels (n·h·w) at which `pays`.
const MIN_CHANNELS: usize = 32;
const MIN_PIXELS: usize = 64;

/// Whether F(2×2, 3×3) beats the im2col GEMM: its transforms cost per channel what the GEMMs
/// save per pair of channels, so it pays with enough channels, and only in wasm, where the GEMM
/// runs 4 lanes wide without fused multiply-adds; natively (AVX2, FMA) the GEMM wins. The
/// thresholds are where faces64's ε_θ measured faster (docs/speed.md, "Winograd").
pub(super) fn pays([c_in, c_out]: [usize; 2], pixels: usize) -> bool {
    cfg!(target_arch = "wasm32") && c_in.min(c_out) >= MIN_CHANNELS && pixels >= MIN_PIXELS
}

/// A layer's transformed filters U, kept between calls with the weight they came from, so a layer
/// whose weight is replaced by another tensor transforms again. Holding the weight keeps its
/// buffer alive (and, shared, unwritable: flex copies on write), so no other tensor can lie at
/// its address while the two are compared.
#[derive(Clone, Default)]
pub struct FilterCache(Arc<Mutex<Option<KeptFilters>>>);

/// A weight and its transformed filters.
type KeptFilters = (FlexTensor, Arc<Vec<f32>>);

impl std::fmt::Debug for FilterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FilterCache")
    }
}

impl FilterCache {
    fn filters(&self, weight: &FlexTensor, [c_out, c_in]: [usize; 2]) -> Arc<Vec<f32>> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let same = |kept: &FlexTensor| std::ptr::eq(slice(kept), slice(weight));
        if let Some((kept, filters)) = &*slot
            && same(kept)
        {
            return filters.clone();
        }
        let filters = Arc::new(transformed_filters(slice(weight), c_out, c_in));
        *slot = Some((weight.clone(), filters.clone()));
        filters
    }
}

/// `input` [n, c_in, h, w] convolved with `weight` [c_out, c_in, 3, 3] at stride 1 with zero
/// padding 1, plus `bias`: [n, c_out, h, w]; U from `cache` when it holds this weight's.
pub(super) fn conv3x3(input: &[f32], [n, c_in, h, w]: [usize; 4], weight: &FlexTensor, bias: &[f32], cache: &FilterCache) -> Vec<f32> {
    let c_out = bias.len();
    let filters = cache.filters(weight, [c_out, c_in]);
    let (rows, cols) = (h.div_ceil(2), w.div_ceil(2));
    // A task takes whole rows of blocks: few enough to stay in L2, enough tasks for every core.
    let fitting = (BLOCK_BYTES / (4 * 16 * (c_in + c_out)) / cols).max(1);
    let task_rows = fitting.min(rows.div_ceil(workers().div_ceil(n))).max(1);
    let tasks = rows.div_ceil(task_rows);
    let plane = h * w;
    let mut out = vec![0.0f32; n * c_out * plane];
    let output = Output(out.as_mut_ptr());
    for_each_task(n * tasks, |task| {
        let (sample, first_row) = (task / tasks, task % tasks * task_rows);
        let block_rows = task_rows.min(rows - first_row);
        let count = block_rows * cols;
        let input = &input[sample * c_in * plane..][..c_in * plane];
        // Block b of the task sits at row first_row + b / cols, column b % cols; lanes run along
        // a row of blocks.
        let runs = || (0..block_rows).flat_map(|r| (0..cols).step_by(LANES).map(move |x0| (r, x0, LANES.min(cols - x0))));
        BUFFERS.with_borrow_mut(|(v, m)| {
            v.resize(16 * c_in * count, 0.0);
            m.resize(16 * c_out * count, 0.0);
            for (channel, plane_in) in input.chunks_exact(plane).enumerate() {
                for (r, x0, lanes) in runs() {
                    let d = input_blocks(plane_in, [h, w], [2 * (first_row + r), x0]);
                    for (xi, values) in input_transform(&d).iter().enumerate() {
                        v[(xi * c_in + channel) * count + r * cols + x0..][..lanes].copy_from_slice(&values[..lanes]);
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
                for (r, x0, lanes) in runs() {
                    let sums: [Lanes; 16] = std::array::from_fn(|xi| {
                        let mut lane_sums = [0.0; LANES];
                        lane_sums[..lanes].copy_from_slice(&m[(xi * c_out + channel) * count + r * cols + x0..][..lanes]);
                        lane_sums
                    });
                    let y = 2 * (first_row + r);
                    for (dy, [even, odd]) in output_transform(&sums).into_iter().enumerate().take(h - y) {
                        let mut line = [0.0f32; 2 * LANES];
                        for (j, pair) in line.chunks_exact_mut(2).enumerate() {
                            pair.copy_from_slice(&[even[j] + b_out, odd[j] + b_out]);
                        }
                        let written = (2 * lanes).min(w - 2 * x0);
                        // SAFETY: `written` pixels of row y + dy from column 2·x0 lie inside the
                        // sample's plane of this channel, and each block belongs to one task.
                        unsafe {
                            let at = output.at((sample * c_out + channel) * plane + (y + dy) * w + 2 * x0);
                            std::ptr::copy_nonoverlapping(line.as_ptr(), at, written);
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

/// Blocks transformed side by side, the lanes the transforms' loops vectorise over.
const LANES: usize = 8;
type Lanes = [f32; LANES];

#[inline(always)]
fn lanewise(f: impl Fn(usize) -> f32) -> Lanes {
    std::array::from_fn(f)
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

/// The 4×4 input blocks d[r][c] of LANES neighbouring output blocks, the first with its top-left
/// at (y − 1, 2·x0 − 1), zero outside the plane.
#[inline(always)]
fn input_blocks(plane: &[f32], [h, w]: [usize; 2], [y, x0]: [usize; 2]) -> [[Lanes; 4]; 4] {
    let mut d = [[[0.0; LANES]; 4]; 4];
    let start = (2 * x0) as isize - 1;
    for (r, d_row) in d.iter_mut().enumerate() {
        let iy = (y + r).wrapping_sub(1);
        if iy >= h {
            continue;
        }
        let row = &plane[iy * w..][..w];
        // The row's columns start .. start + 2·LANES + 2.
        const SEGMENT: usize = 2 * LANES + 2;
        let mut segment = [0.0f32; SEGMENT];
        if start >= 0 && start as usize + SEGMENT <= w {
            segment.copy_from_slice(&row[start as usize..][..SEGMENT]);
        } else {
            for (k, value) in segment.iter_mut().enumerate() {
                let ix = start + k as isize;
                if ix >= 0 && (ix as usize) < w {
                    *value = row[ix as usize];
                }
            }
        }
        for (c, lanes) in d_row.iter_mut().enumerate() {
            *lanes = lanewise(|j| segment[2 * j + c]);
        }
    }
    d
}

/// V = Bᵀ·d·B, flattened row-major: Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
#[inline(always)]
fn input_transform(d: &[[Lanes; 4]; 4]) -> [Lanes; 16] {
    let bt = |[a, b, c, e]: [&Lanes; 4]| {
        [lanewise(|j| a[j] - c[j]), lanewise(|j| b[j] + c[j]), lanewise(|j| c[j] - b[j]), lanewise(|j| b[j] - e[j])]
    };
    let columns: [[Lanes; 4]; 4] = std::array::from_fn(|col| bt([&d[0][col], &d[1][col], &d[2][col], &d[3][col]]));
    let mut v = [[0.0; LANES]; 16];
    for row in 0..4 {
        let transformed = bt([&columns[0][row], &columns[1][row], &columns[2][row], &columns[3][row]]);
        v[row * 4..row * 4 + 4].copy_from_slice(&transformed);
    }
    v
}

/// Y = Aᵀ·M·A, [dy][dx]: Aᵀ = [1 1 1 0; 0 1 −1 −1].
#[inline(always)]
fn output_transform(m: &[Lanes; 16]) -> [[Lanes; 2]; 2] {
    let at = |[a, b, c, e]: [&Lanes; 4]| [lanewise(|j| a[j] + b[j] + c[j]), lanewise(|j| b[j] - c[j] - e[j])];
    let columns: [[Lanes; 2]; 4] = std::array::from_fn(|col| at([&m[col], &m[4 + col], &m[8 + col], &m[12 + col]]));
    std::array::from_fn(|row| at([&columns[0][row], &columns[1][row], &columns[2][row], &columns[3][row]]))
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Distribution, Tensor, Tolerance};

    use super::super::{flex_f32, slice};

    /// F(2×2, 3×3) against burn's conv2d whatever `pays` decides: odd and even sizes, planes
    /// smaller than a block, one channel, blocks split over tasks on three threads; U cached.
    #[test]
    fn winograd_matches_burns_conv2d() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a thread pool");
        pool.install(|| {
            let device = burn::tensor::Device::flex();
            let random = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            // One cache for every case: each new weight must be transformed again.
            let cache = super::FilterCache::default();
            for ([n, c_in, h, w], c_out) in [([2, 3, 9, 7], 5), ([1, 1, 1, 1], 1), ([1, 4, 2, 3], 2), ([3, 8, 40, 34], 6)] {
                let (x, weight) = (random([n, c_in, h, w]), random([c_out, c_in, 3, 3]));
                let bias = random([1, 1, 1, c_out]).reshape([c_out]);
                let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
                let reference = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
                let [x, weight, bias] = [x, weight, bias.reshape([1, 1, 1, c_out])].map(|t| flex_f32(t).expect("flex f32"));
                let ours = super::conv3x3(slice(&x), [n, c_in, h, w], &weight, slice(&bias), &cache);
                // A second call takes U from the cache.
                assert_eq!(super::conv3x3(slice(&x), [n, c_in, h, w], &weight, slice(&bias), &cache), ours);
                let ours = Tensor::<1>::from_floats(ours.as_slice(), &device).reshape([n, c_out, h, w]);
                // The transforms scale values by up to 4 each way before the sums.
                let depth = (c_in * 9) as f64;
                ours.into_data().assert_approx_eq::<f32>(&reference.into_data(), Tolerance::absolute(1e-5 * depth));
            }
        });
    }
}
