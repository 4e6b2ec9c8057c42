//! NumPy `.npy` (format 1.0/2.0/3.0), float32 little-endian C-order only: the CLI's array
//! format, read and written without Python.

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Parses a float32 `.npy` into (shape, values).
pub fn read_f32(bytes: &[u8], name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |why: String| Error::Input(format!("{name}: {why}"));
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (bad magic)".into()));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let data_start = header_start + header_len;
    let header =
        bytes.get(header_start..data_start).and_then(|h| std::str::from_utf8(h).ok()).ok_or_else(|| bad("truncated header".into()))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        Some(header[at..].trim_start_matches([':', ' ']))
    };
    let descr = field("descr").ok_or_else(|| bad("header has no descr".into()))?;
    if !(descr.starts_with("'<f4'") || descr.starts_with("'=f4'")) {
        return Err(bad(format!(
            "dtype {} is not float32 little-endian ('<f4'): save with .astype(np.float32)",
            descr.split(',').next().unwrap_or("")
        )));
    }
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad("Fortran-ordered arrays are not supported: save np.ascontiguousarray(x)".into()));
    }
    let shape_text = field("shape").ok_or_else(|| bad("header has no shape".into()))?;
    let inner = shape_text.trim_start_matches('(').split(')').next().unwrap_or("");
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad(format!("bad shape {shape_text}"))))
        .collect::<Result<Vec<_>>>()?;
    let count: usize = shape.iter().product();
    let data = &bytes[data_start.min(bytes.len())..];
    if data.len() != count * 4 {
        return Err(bad(format!("shape {shape:?} needs {} data bytes, the file has {}", count * 4, data.len())));
    }
    let values = data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((shape, values))
}

/// Serialises a float32 array as `.npy` version 1.0.
pub fn write_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = write_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        assert_eq!(bytes.len() % 64, 6 * 4);
        let (shape, values) = read_f32(&bytes, "x").unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(values[5], 6.5);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(read_f32(b"hello world", "x").unwrap_err().to_string().contains("bad magic"));
        let mut bytes = write_f32(&[4], &[1.0; 4]);
        bytes.truncate(bytes.len() - 3);
        assert!(read_f32(&bytes, "x").unwrap_err().to_string().contains("needs 16 data bytes"));
        let f8 = String::from_utf8(write_f32(&[1], &[0.0])).unwrap_or_default().replace("<f4", "<f8");
        assert!(read_f32(f8.as_bytes(), "x").is_err());
    }
}
