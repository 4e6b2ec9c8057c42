//! `torch.nn.Conv2d` as an im2col straight from NCHW and one GEMM per tile of output pixels that
//! writes into the output, which already holds the bias. flex's own convolution copies the
//! input and the weights to channels-last first, allocates each GEMM's result, scatters it into
//! the output and adds the bias in a pass of its own.

use std::cell::RefCell;
use std::ops::Range;

use burn::backend::flex::Flex;
use burn::tensor::Tensor;

use super::winograd::{self, FilterCache};
use super::{Output, flex_f32, for_each_task, matmul, slice, tensor, workers};

/// Bytes of one tile's im2col buffer to aim for: it and the weights stay in L2 while the GEMM runs.
const COLUMNS_BYTES: usize = 256 * 1024;
/// Fewer output pixels than this in a tile and the GEMM runs below its micro-kernel's pace.
const MIN_TILE_PIXELS: usize = 256;
/// Fewer output channels than this in a task and the GEMM runs below its micro-kernel's pace.
const MIN_BLOCK_CHANNELS: usize = 16;

/// `x` [n, c_in, h, w] convolved with `weight` [c_out, c_in, kh, kw] (groups 1, dilation 1),
/// plus `bias`, at `stride` with `padding` (top, bottom, left, right); `filters` keeps what the
/// layer's weight transforms into between calls. Err gives `x` back when an operand is not a
/// plain f32 flex tensor.
pub fn conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: &Tensor<1>,
    stride: usize,
    padding: [usize; 4],
    filters: &FilterCache,
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
    if kh == 3 && kw == 3 && stride == 1 && padding == [1; 4] && winograd::pays([c_in, c_out], n * h * w) {
        let out = winograd::conv3x3(slice(&x), [n, c_in, h, w], &weight, slice(&bias), filters);
        return Ok(tensor(out, [n, c_out, h, w]));
    }
    let (input, weight, bias) = (slice(&x), slice(&weight), slice(&bias));
    let pixels = geometry.oh * geometry.ow;
    let depth = c_in * kh * kw;
    let tile_rows = (COLUMNS_BYTES / 4 / depth).max(MIN_TILE_PIXELS).div_ceil(geometry.ow).min(geometry.oh);
    let tiles = geometry.oh.div_ceil(tile_rows);
    // A batch of one at 16×16 or 8×8 is a single tile: its output channels are split into blocks
    // until every core has a task (each block's task redoes the tile's im2col, a copy against
    // its GEMM's depth multiply-adds per output value).
    let blocks = workers().div_ceil(n * tiles).min(c_out.div_ceil(MIN_BLOCK_CHANNELS)).max(1);
    let block_channels = c_out.div_ceil(blocks);
    let blocks = c_out.div_ceil(block_channels);
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
    // One task per sample, tile of output rows and block of output channels; each writes only
    // its own columns of its own rows of its sample's output.
    let output = Output(out.as_mut_ptr());
    for_each_task(n * tiles * blocks, |task| {
        let (sample, tile, block) = (task / (tiles * blocks), task / blocks % tiles, task % blocks);
        let input = &input[sample * c_in * h * w..][..c_in * h * w];
        let rows = tile * tile_rows..((tile + 1) * tile_rows).min(geometry.oh);
        let (first, len) = (rows.start * geometry.ow, rows.len() * geometry.ow);
        let channels = block * block_channels..((block + 1) * block_channels).min(c_out);
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
            // SAFETY: the task's block, out[sample, c, first..first + len] for c in `channels` (row
            // stride `pixels`), lies inside `out` and no other task's; weight is [c_out, depth]
            // row-major; rhs is [depth, len] with row stride rhs_rs, inside its slice.
            unsafe {
                matmul(
                    [channels.len(), len, depth],
                    (output.at((sample * c_out + channels.start) * pixels + first), pixels, 1),
                    true,
                    (weight.as_ptr().add(channels.start * depth), depth, 1),
                    (rhs.as_ptr(), rhs_rs, 1),
                    1.0,
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
                    if self.stride == 1 && self.ow == self.w {
                        self.shifted_plane(plane, rows.clone(), [ky, kx], row);
                    } else {
                        self.gathered_plane(plane, rows.clone(), [ky, kx], row);
                    }
                }
            }
        }
    }

    /// One column row at stride 1 with as many output as input columns (a "same" convolution):
    /// the plane's rows shifted by (ky − top, kx − left) are one contiguous run of the input, so
    /// the tile's valid rows are a single copy whose columns that wrapped round a row's end are
    /// then zeroed, instead of a copy and two fills per row.
    fn shifted_plane(&self, plane: &[f32], rows: Range<usize>, [ky, kx]: [usize; 2], out: &mut [f32]) {
        let w = self.w as isize;
        let (dy, dx) = (ky as isize - self.top as isize, kx as isize - self.left as isize);
        let first_row = rows.start as isize;
        // Output rows of the tile whose input row lies inside the plane, relative to the tile.
        let valid_from = (-dy - first_row).clamp(0, rows.len() as isize) as usize;
        let valid_to = (self.h as isize - dy - first_row).clamp(valid_from as isize, rows.len() as isize) as usize;
        out[..valid_from * self.ow].fill(0.0);
        out[valid_to * self.ow..].fill(0.0);
        if valid_from == valid_to {
            return;
        }
        let block = &mut out[valid_from * self.ow..valid_to * self.ow];
        let source = ((first_row + valid_from as isize + dy) * w + dx).clamp(-(block.len() as isize), plane.len() as isize);
        // Where the run starts before the plane or ends after it, the elements left out are
        // wrapped columns, zeroed below.
        let skip = (-source).max(0) as usize;
        let source = source.max(0) as usize;
        let copied = (block.len() - skip).min(plane.len() - source);
        block[skip..skip + copied].copy_from_slice(&plane[source..source + copied]);
        let edge = dx.unsigned_abs().min(self.ow);
        for line in block.chunks_exact_mut(self.ow) {
            if dx > 0 {
                line[self.ow - edge..].fill(0.0);
            } else {
                line[..edge].fill(0.0);
            }
        }
    }

    /// One column row in general: each output row gathered from its input row.
    fn gathered_plane(&self, plane: &[f32], rows: Range<usize>, [ky, kx]: [usize; 2], row: &mut [f32]) {
        // The output columns whose input column lies inside the image.
        let inside = |ox: usize| (ox * self.stride + kx).checked_sub(self.left).filter(|&ix| ix < self.w);
        let first = (0..self.ow).find(|&ox| inside(ox).is_some()).unwrap_or(self.ow);
        let last = (first..self.ow).take_while(|&ox| inside(ox).is_some()).last().map_or(first, |ox| ox + 1);
        for (oy, out_row) in rows.zip(row.chunks_exact_mut(self.ow)) {
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
