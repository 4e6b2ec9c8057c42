//! Frames → an animated GIF, what a blog author pastes into a post: x_t or x̂_0 over t, the
//! fork grid, the spiral's particles. `ddpm sample --animate` and the page's "Save animation"
//! both write it here. Grey frames keep every grey level (a 256-grey palette); colour frames
//! get a palette of their own (NeuQuant).

use crate::grid::Pixels;
use crate::{Error, Result};

/// More frames than a person scrubs through; a GIF this long is tens of megabytes.
pub const MAX_FRAMES: usize = 2000;
/// GIF's own limit is 65 535; beyond this the page's canvases and the CLI's grids never go.
pub const MAX_SIDE: usize = 4096;

/// The pace of the CLI's and the page's animations: 60 frames play in about 5 s, then the
/// result stays for 2 s before the loop restarts.
pub const FRAME_MS: u32 = 80;
pub const HOLD_LAST_MS: u32 = 2000;
/// Frames when none are asked for: enough to see features crystallise, small enough to paste.
pub const DEFAULT_FRAMES: usize = 60;

/// Canvas pixels (RGBA, what `getImageData` gives) as grey when every pixel is, else RGB.
pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Result<Pixels> {
    if width.checked_mul(height).and_then(|n| n.checked_mul(4)) != Some(rgba.len()) {
        return Err(Error::Input(format!("a {width}×{height} RGBA frame has {} bytes, not {}", rgba.len(), width * height * 4)));
    }
    let grey = rgba.chunks_exact(4).all(|p| p[0] == p[1] && p[1] == p[2]);
    let channels = if grey { 1 } else { 3 };
    let data = rgba.chunks_exact(4).flat_map(|p| p[..channels].iter().copied()).collect();
    Ok(Pixels { width, height, channels, data })
}

/// An animated GIF that loops forever, showing each frame for `delay_ms` (the last for
/// `hold_last_ms`, so the result stays in view before the loop restarts).
pub fn encode_gif(frames: &[Pixels], delay_ms: u32, hold_last_ms: u32) -> Result<Vec<u8>> {
    let first = frames.first().ok_or_else(|| Error::Input("an animation needs at least one frame".into()))?;
    let (width, height) = (first.width, first.height);
    if frames.len() > MAX_FRAMES {
        return Err(Error::Input(format!("{} frames: at most {MAX_FRAMES}", frames.len())));
    }
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(Error::Input(format!("a {width}×{height} animation: each side must be 1..={MAX_SIDE}")));
    }
    for (i, frame) in frames.iter().enumerate() {
        let expected = width * height * frame.channels;
        if (frame.width, frame.height) != (width, height) || !matches!(frame.channels, 1 | 3) || frame.data.len() != expected {
            return Err(Error::Input(format!(
                "frame {i} is {}×{}×{} ({} bytes); the first is {width}×{height}, grey or RGB",
                frame.width,
                frame.height,
                frame.channels,
                frame.data.len()
            )));
        }
    }
    let greys: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
    let gif_error = |e: gif::EncodingError| Error::Input(format!("GIF encoding failed: {e}"));
    let (w, h) = (width as u16, height as u16);
    let mut encoder = gif::Encoder::new(Vec::new(), w, h, &greys).map_err(gif_error)?;
    encoder.set_repeat(gif::Repeat::Infinite).map_err(gif_error)?;
    let centiseconds = |ms: u32| (ms.div_ceil(10)).clamp(2, u32::from(u16::MAX)) as u16;
    for (i, pixels) in frames.iter().enumerate() {
        let mut frame = if pixels.channels == 1 {
            // The global palette is the 256 greys: a grey value is its own index.
            gif::Frame::from_indexed_pixels(w, h, pixels.data.clone(), None)
        } else {
            // NeuQuant's finest setting: a coarser one doubles the colour error.
            gif::Frame::from_rgb_speed(w, h, &pixels.data, 1)
        };
        frame.delay = centiseconds(if i + 1 == frames.len() { hold_last_ms.max(delay_ms) } else { delay_ms });
        encoder.write_frame(&frame).map_err(gif_error)?;
    }
    encoder.into_inner().map_err(gif_error)
}

/// Which of `total` recorded steps to show in an animation of at most `frames`: evenly spaced,
/// always the first and the last.
pub fn frame_steps(total: usize, frames: usize) -> Vec<usize> {
    if total == 0 || frames == 0 {
        return Vec::new();
    }
    if frames >= total || frames == 1 {
        return if frames == 1 { vec![total - 1] } else { (0..total).collect() };
    }
    let mut steps: Vec<usize> = (0..frames).map(|i| (i * (total - 1) + (frames - 1) / 2) / (frames - 1)).collect();
    steps.dedup();
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(bytes).expect("a GIF");
        let mut frames = Vec::new();
        while let Some(frame) = decoder.read_next_frame().expect("a frame") {
            frames.push((frame.delay, frame.buffer.to_vec()));
        }
        frames
    }

    #[test]
    fn grey_frames_keep_every_level_and_their_timing() {
        let frames: Vec<Pixels> = (0..3u8)
            .map(|k| Pixels { width: 16, height: 16, channels: 1, data: (0..=255u8).map(|v| v.wrapping_add(k * 7)).collect() })
            .collect();
        let decoded = decode(&encode_gif(&frames, 100, 1500).unwrap());
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded.iter().map(|(d, _)| *d).collect::<Vec<_>>(), [10, 10, 150]);
        for (frame, (_, rgba)) in frames.iter().zip(&decoded) {
            let red: Vec<u8> = rgba.chunks(4).map(|p| p[0]).collect();
            assert_eq!(red, frame.data, "every grey level survives exactly");
        }
    }

    #[test]
    fn colour_frames_come_back_close() {
        let data: Vec<u8> = (0..32 * 32).flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 8) as u8, 128]).collect();
        let frame = Pixels { width: 32, height: 32, channels: 3, data: data.clone() };
        let decoded = decode(&encode_gif(&[frame], 40, 40).unwrap());
        let rgb: Vec<u8> = decoded[0].1.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
        let mean_error = rgb.iter().zip(&data).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / data.len() as f64;
        // 1024 colours into a 256-colour palette: the best uniform palette errs by 2.7 a channel
        // on average; NeuQuant at its finest gives 5.4.
        assert!(mean_error < 6.0, "mean error {mean_error}");
    }

    #[test]
    fn refuses_what_it_cannot_encode() {
        let ok = Pixels { width: 4, height: 4, channels: 1, data: vec![0; 16] };
        assert!(encode_gif(&[], 10, 10).is_err());
        let other_size = Pixels { width: 5, height: 4, channels: 1, data: vec![0; 20] };
        assert!(encode_gif(&[Pixels { ..ok }, other_size], 10, 10).unwrap_err().to_string().contains("frame 1"));
        let short = Pixels { width: 4, height: 4, channels: 3, data: vec![0; 47] };
        assert!(encode_gif(&[short], 10, 10).is_err());
        let huge = Pixels { width: MAX_SIDE + 1, height: 1, channels: 1, data: vec![0; MAX_SIDE + 1] };
        assert!(encode_gif(&[huge], 10, 10).is_err());
        assert!(from_rgba(2, 2, &[0; 15]).is_err());
    }

    #[test]
    fn rgba_becomes_grey_only_when_every_pixel_is() {
        assert_eq!(from_rgba(1, 2, &[9, 9, 9, 255, 3, 3, 3, 255]).unwrap().channels, 1);
        let colour = from_rgba(1, 2, &[9, 9, 9, 255, 3, 4, 3, 255]).unwrap();
        assert_eq!((colour.channels, colour.data), (3, vec![9, 9, 9, 3, 4, 3]));
    }

    #[test]
    fn frame_steps_are_even_and_keep_both_ends() {
        assert_eq!(frame_steps(1000, 5), [0, 250, 500, 749, 999]);
        assert_eq!(frame_steps(3, 10), [0, 1, 2]);
        assert_eq!(frame_steps(10, 1), [9]);
        assert!(frame_steps(0, 4).is_empty());
    }
}
