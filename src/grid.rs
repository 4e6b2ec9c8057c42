//! Turns model-range arrays ([−1, 1], NCHW) into 8-bit pixels and tiles a batch into one grid
//! image: what the CLI writes as PNG and what the page draws.

/// An 8-bit image, grey (1 channel) or RGB (3), row-major, channels interleaved.
pub struct Pixels {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<u8>,
}

/// [−1, 1] → 0..=255, as diffusers' pipelines do ((x / 2 + 0.5).clamp(0, 1) · 255, rounded).
pub fn to_u8(x: f32) -> u8 {
    ((x / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Tiles `values` of shape [n, c, h, w] into `columns` columns with a `gap`-pixel border.
pub fn tile(values: &[f32], [n, c, h, w]: [usize; 4], columns: usize, gap: usize) -> Pixels {
    let columns = columns.clamp(1, n.max(1));
    let rows = n.div_ceil(columns);
    let width = columns * w + (columns + 1) * gap;
    let height = rows * h + (rows + 1) * gap;
    let mut data = vec![255u8; width * height * c];
    for i in 0..n {
        let (ox, oy) = (gap + (i % columns) * (w + gap), gap + (i / columns) * (h + gap));
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let v = values[((i * c + ch) * h + y) * w + x];
                    data[((oy + y) * width + ox + x) * c + ch] = to_u8(v);
                }
            }
        }
    }
    Pixels { width, height, channels: c, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_in_place() {
        // two 1×2×2 images, -1 and +1, side by side with a 1-pixel gap
        let values = [-1.0; 4].into_iter().chain([1.0; 4]).collect::<Vec<f32>>();
        let p = tile(&values, [2, 1, 2, 2], 2, 1);
        assert_eq!((p.width, p.height), (7, 4));
        assert_eq!(p.data[7 + 1], 0); // first image
        assert_eq!(p.data[7 + 4], 255); // second image
        assert_eq!(to_u8(0.0), 128);
    }
}
