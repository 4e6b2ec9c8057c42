//! PNG in, for `ddpm inpaint`: an image centre-cropped to a square, resized to the model's size by
//! area averaging, in the model's channels and range; a mask PNG the same way.

use std::path::Path;

use ddpm_web::{Error, Result};

/// 8-bit pixels, `channels` interleaved (1 grey, 3 RGB).
struct Decoded {
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<u8>,
}

fn decode(path: &Path) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |e: &dyn std::fmt::Display| Error::Input(format!("{}: not a readable PNG ({e})", path.display()));
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Palettes, 16-bit and sub-byte depths become 8-bit grey or RGB(A).
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
    let size = reader.output_buffer_size().ok_or_else(|| bad(&"image too large"))?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(|e| bad(&e))?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let stride = frame.line_size;
    let source_channels = frame.color_type.samples();
    // Alpha is dropped: what is known is the mask's business.
    let channels = if source_channels >= 3 { 3 } else { 1 };
    let mut data = Vec::with_capacity(width * height * channels);
    for row in buffer[..stride * height].chunks(stride) {
        for px in row[..width * source_channels].chunks(source_channels) {
            data.extend_from_slice(&px[..channels]);
        }
    }
    Ok(Decoded { width, height, channels, data })
}

/// The centred square of side min(w, h), area-averaged to `size`×`size`, as f32 in [0, 255],
/// channel-major [c, size, size].
fn square(image: &Decoded, size: usize) -> Vec<f32> {
    let side = image.width.min(image.height);
    let (x0, y0) = ((image.width - side) / 2, (image.height - side) / 2);
    let c = image.channels;
    let mut out = vec![0.0; c * size * size];
    let scale = side as f64 / size as f64;
    for ty in 0..size {
        let (ya, yb) = ((ty as f64 * scale) as usize, (((ty + 1) as f64 * scale).ceil() as usize).min(side));
        for tx in 0..size {
            let (xa, xb) = ((tx as f64 * scale) as usize, (((tx + 1) as f64 * scale).ceil() as usize).min(side));
            let count = ((yb - ya).max(1) * (xb - xa).max(1)) as f32;
            for ch in 0..c {
                let mut sum = 0.0;
                for y in ya..yb.max(ya + 1) {
                    for x in xa..xb.max(xa + 1) {
                        sum += f32::from(image.data[((y0 + y) * image.width + x0 + x) * c + ch]);
                    }
                }
                out[(ch * size + ty) * size + tx] = sum / count;
            }
        }
    }
    out
}

/// `path` as the model's input: [channels, size, size] in [−1, 1]. Colour becomes grey (Rec. 601
/// luma) for a grey model; grey is repeated for a colour one.
pub fn read_image(path: &Path, channels: usize, size: usize) -> Result<Vec<f32>> {
    let image = decode(path)?;
    let plane = size * size;
    let pixels = square(&image, size);
    let planes: Vec<&[f32]> = pixels.chunks(plane).collect();
    let out: Vec<f32> = match (image.channels, channels) {
        (1, c) => planes[0].iter().copied().cycle().take(plane * c).collect(),
        (3, 1) => (0..plane).map(|i| 0.299 * planes[0][i] + 0.587 * planes[1][i] + 0.114 * planes[2][i]).collect(),
        (3, 3) => pixels.clone(),
        (_, c) => {
            return Err(Error::Input(format!("{}: cannot turn a {}-channel image into {c} channels", path.display(), image.channels)));
        }
    };
    Ok(out.into_iter().map(|v| v / 127.5 - 1.0).collect())
}

/// A mask PNG as [size, size]: white (≥ 128) known, black to fill.
pub fn read_mask(path: &Path, size: usize) -> Result<Vec<f32>> {
    let image = decode(path)?;
    let grey = square(&image, size);
    let first_plane = &grey[..size * size];
    Ok(first_plane.iter().map(|&v| if v >= 128.0 { 1.0 } else { 0.0 }).collect())
}
