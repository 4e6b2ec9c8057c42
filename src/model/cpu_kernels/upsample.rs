//! Nearest-neighbour ×2 upsampling: each input row written out twice, each value doubled. burn's
//! path (expand, then reshape) gathers every output element through a strided iterator.

use burn::tensor::Tensor;

use super::{filled, flex_f32, slice, tensor};

/// `x` [n, c, h, w] → [n, c, 2h, 2w]. Err gives `x` back when it is not a plain f32 flex tensor.
pub fn upsample_nearest2(x: Tensor<4>) -> Result<Tensor<4>, Tensor<4>> {
    let [n, c, h, w] = x.dims();
    let x = flex_f32(x)?;
    let input = slice(&x);
    let dims = [n, c, 2 * h, 2 * w];
    if input.is_empty() {
        return Ok(tensor(Vec::new(), dims));
    }
    let out = filled(4 * input.len(), 4 * h * w, |plane, out| {
        for (in_row, out_rows) in input[plane * h * w..][..h * w].chunks_exact(w).zip(out.chunks_exact_mut(4 * w)) {
            let (first, second) = out_rows.split_at_mut(2 * w);
            for (pair, &v) in first.chunks_exact_mut(2).zip(in_row) {
                pair[0].write(v);
                pair[1].write(v);
            }
            second.copy_from_slice(first);
        }
    });
    Ok(tensor(out, dims))
}
