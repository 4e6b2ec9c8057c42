//! `torch.nn.Conv2d` as an im2col straight from NCHW and one GEMM per tile of output pixels that
//! writes into the output, which already holds the bias. flex's own convolution copies the
//! input and the weights to channels-last first, allocates each GEMM's result, scatters it into
//! the output and adds the bias in a pass of its own.

use std::ops::Range;

use burn::backend::flex::Flex;
use burn::tensor::Tensor;

use super::{flex_f32, for_each_slab, slice, tensor};

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
    let tile_rows = (COLUMNS_BYTES / 4 / depth).max(MIN_TILE_PIXELS).div_ceil(geometry.ow).min(geometry.oh);
    let tiles = geometry.oh.div_ceil(tile_rows);
    // A 1×1 convolution at stride 1 without padding reads its input as it lies: no im2col.
    let direct = kh == 1 && kw == 1 && stride == 1 && padding == [0; 4];

    let mut out = vec![0.0; n * c_out * pixels];
    if out.is_empty() {
        return Ok(tensor(out, [n, c_out, geometry.oh, geometry.ow]));
    }
    for (channel, plane) in out.chunks_exact_mut(pixels).enumerate() {
        plane.fill(bias[channel % c_out]);
    }
    let sample_out = c_out * pixels;
    for_each_slab(&mut out, sample_out, |sample, out| {
        let input = &input[sample * c_in * h * w..][..c_in * h * w];
        let mut columns = if direct { Vec::new() } else { vec![0.0; depth * tile_rows * geometry.ow] };
        for tile in 0..tiles {
            let rows = tile * tile_rows..((tile + 1) * tile_rows).min(geometry.oh);
            let (first, len) = (rows.start * geometry.ow, rows.len() * geometry.ow);
            let (rhs, rhs_rs) = if direct {
                (&input[first..], pixels)
            } else {
                geometry.im2col(input, rows, &mut columns[..depth * len]);
                (&columns[..], len)
            };
            // SAFETY: out[c, first..first + len] for c < c_out lies in this sample's slab
            // (row stride `pixels`); weight is [c_out, depth] row-major; rhs is [depth, len]
            // with row stride rhs_rs, inside its slice.
            unsafe {
                gemm::gemm(
                    c_out,
                    len,
                    depth,
                    out[first..].as_mut_ptr(),
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
        }
    });
    Ok(tensor(out, [n, c_out, geometry.oh, geometry.ow]))
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
                    let last = (first..self.ow).take_while(|&ox| inside(ox).is_some()).last().map_or(first, |ox| ox + 1);
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
                            for (o, &v) in out_row[first..last].iter_mut().zip(in_row[start..].iter().step_by(self.stride)) {
                                *o = v;
                            }
                        }
                    }
                }
            }
        }
    }
}
