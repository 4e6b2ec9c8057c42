//! `torch.nn.Conv2d` as an im2col straight from NCHW and one GEMM per tile of output pixels that
//! writes into the output, which already holds the bias. flex's own convolution copies the
//! input and the weights to channels-last first, allocates each GEMM's result, scatters it into
//! the output and adds the bias in a pass of its own.

use std::cell::RefCell;
use std::ops::Range;

use burn::backend::flex::Flex;
use burn::tensor::Tensor;

use super::{flex_f32, for_each_task, slice, tensor};

/// Bytes of one tile's im2col buffer to aim for: it and the weights stay in L2 while the GEMM runs.
const COLUMNS_BYTES: usize = 256 * 1024;
/// Fewer output pixels than this in a tile and the GEMM runs below its micro-kernel's pace.
const MIN_TILE_PIXELS: usize = 256;

/// `x` [n, c_in, h, w] convolved with `weight` [c_out, c_in, kh, kw] (groups 1, dilation 1),
/// plus `bias`, at `stride` with `padding` (top, bottom, left, right). Err gives `x` back when an
/// operand is not a plain f32 flex tensor.
pub fn conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: &Tensor<1>,
    stride: usize,
    padding: [usize; 4],
) -> Result<Tensor<4>, Tensor<4>> {
    let [n, c_in, h, w] = x.dims();
    let [c_out, _, kh, kw] = weight.dims();
    let x = flex_f32(x)?;
    let (Ok(weight), Ok(bias)) = (flex_f32(weight.clone()), flex_f32(bias.clone())) else {
        return Err(Tensor::from_primitive::<Flex>(x));
    };
    let [top, bottom, left, right] = padding;
    if h + top + bottom < kh || w + left + right < kw || stride == 0 {
        return Err(Tensor::from_primitive::<Flex>(x));
    }
    let geometry = Geometry {
        c_in,
        h,
        w,
        kh,
        kw,
        stride,
        top,
        left,
        oh: (h + top + bottom - kh) / stride + 1,
        ow: (w + left + right - kw) / stride + 1,
    };
    let (input, weight, bias) = (slice(&x), slice(&weight), slice(&bias));
    let pixels = geometry.oh * geometry.ow;
    let depth = c_in * kh * kw;
    let tile_rows = (COLUMNS_BYTES / 4 / depth)
        .max(MIN_TILE_PIXELS)
        .div_ceil(geometry.ow)
        .min(geometry.oh);
    let tiles = geometry.oh.div_ceil(tile_rows);
    // A 1×1 convolution at stride 1 without padding reads its input as it lies: no im2col.
    let direct = kh == 1 && kw == 1 && stride == 1 && padding == [0; 4];

    if n * c_out * pixels == 0 {
        return Ok(tensor(Vec::new(), [n, c_out, geometry.oh, geometry.ow]));
    }
    // The bias, written once: the GEMMs add onto it.
    let mut out = Vec::with_capacity(n * c_out * pixels);
    for _ in 0..n {
        for &b in bias {
            out.extend(std::iter::repeat_n(b, pixels));
        }
    }
    // One task per sample and tile of output rows (a batch of one still fills the cores); each
    // writes only its own columns of its sample's c_out output rows.
    let output = Output(out.as_mut_ptr());
    for_each_task(n * tiles, |task| {
        let (sample, tile) = (task / tiles, task % tiles);
        let input = &input[sample * c_in * h * w..][..c_in * h * w];
        let rows = tile * tile_rows..((tile + 1) * tile_rows).min(geometry.oh);
        let (first, len) = (rows.start * geometry.ow, rows.len() * geometry.ow);
        COLUMNS.with_borrow_mut(|columns| {
            let (rhs, rhs_rs) = if direct {
                (&input[first..], pixels)
            } else {
                if columns.len() < depth * len {
                    columns.resize(depth * len, 0.0);
                }
                geometry.im2col(input, rows, &mut columns[..depth * len]);
                (&columns[..], len)
            };
            // SAFETY: the task's block, out[sample, c, first..first + len] for c < c_out (row stride
            // `pixels`), lies inside `out` and no other task's; weight is [c_out, depth] row-major;
            // rhs is [depth, len] with row stride rhs_rs, inside its slice.
            unsafe {
                gemm::gemm(
                    c_out,
                    len,
                    depth,
                    output.at(sample * c_out * pixels + first),
                    1,
                    pixels as isize,
                    true,
                    weight.as_ptr(),
                    1,
                    depth as isize,
                    rhs.as_ptr(),
                    1,
                    rhs_rs as isize,
                    1.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        });
    });
    Ok(tensor(out, [n, c_out, geometry.oh, geometry.ow]))
}

thread_local! {
    /// Each thread's im2col buffer, kept between calls: allocating (and zeroing) one per tile
    /// cost more than the copy into it.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The output buffer, shared by tasks that write disjoint blocks of it.
struct Output(*mut f32);

// SAFETY: tasks write disjoint elements (see `conv2d`), and `out` outlives them all.
unsafe impl Sync for Output {}

impl Output {
    /// SAFETY: `offset` lies inside the buffer.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

struct Geometry {
    c_in: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    top: usize,
    left: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// The tile's columns: row (c, ky, kx) holds input[c, oy·stride + ky − top, ox·stride + kx −
    /// left] for each output pixel (oy, ox) of `rows`, zero where that falls in the padding.
    fn im2col(&self, input: &[f32], rows: Range<usize>, columns: &mut [f32]) {
        let len = rows.len() * self.ow;
        let mut column_rows = columns.chunks_exact_mut(len);
        for plane in input.chunks_exact(self.h * self.w).take(self.c_in) {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = column_rows.next().expect("depth rows");
                    // The output columns whose input column lies inside the image.
                    let inside = |ox: usize| (ox * self.stride + kx).checked_sub(self.left).filter(|&ix| ix < self.w);
                    let first = (0..self.ow).find(|&ox| inside(ox).is_some()).unwrap_or(self.ow);
                    let last = (first..self.ow)
                        .take_while(|&ox| inside(ox).is_some())
                        .last()
                        .map_or(first, |ox| ox + 1);
                    for (oy, out_row) in rows.clone().zip(row.chunks_exact_mut(self.ow)) {
                        let iy = (oy * self.stride + ky).checked_sub(self.top).filter(|&iy| iy < self.h);
                        let Some(iy) = iy else {
                            out_row.fill(0.0);
                            continue;
                        };
                        let in_row = &plane[iy * self.w..][..self.w];
                        out_row[..first].fill(0.0);
                        out_row[last..].fill(0.0);
                        let Some(start) = inside(first) else { continue };
                        if self.stride == 1 {
                            out_row[first..last].copy_from_slice(&in_row[start..start + (last - first)]);
                        } else {
                            for (o, &v) in out_row[first..last]
                                .iter_mut()
                                .zip(in_row[start..].iter().step_by(self.stride))
                            {
                                *o = v;
                            }
                        }
                    }
                }
            }
        }
    }
}
