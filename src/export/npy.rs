//! `.npy` arrays of `f32`, in C order.

use std::path::Path;

use npyz::WriterBuilder;

use super::{ExportError, write_atomically};

/// A C-ordered `f32` array with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Writes `data` (C order) with `shape` as a float32 `.npy` file, atomically.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), ExportError> {
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(ExportError::Format {
            path: path.to_path_buf(),
            message: format!("shape {shape:?} needs {expected} values, got {}", data.len()),
        });
    }
    let shape64: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
    write_atomically(path, |w| {
        let mut writer = npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape64).writer(w).begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })
}

/// Reads a float32 or float64 `.npy` file in C order into `f32`.
pub fn read_npy_f32(path: &Path) -> Result<NpyArray, ExportError> {
    let limit = crate::budget::MemoryBudget::of_machine().limit() / 2;
    let bytes = super::read_bounded(path, limit).map_err(|e| ExportError::io(path, e))?;
    let format = |message: String| ExportError::Format { path: path.to_path_buf(), message };
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| format(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(format("Fortran-ordered arrays are not supported; save in C order".into()));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&s| usize::try_from(s).unwrap_or(usize::MAX)).collect();
    let count = shape.iter().try_fold(1usize, |n, &s| n.checked_mul(s));
    let expected_bytes = count.and_then(|n| n.checked_mul(4));
    if expected_bytes.is_none_or(|b| b as u64 > limit) {
        return Err(format(format!("the header's shape {shape:?} does not fit in memory")));
    }
    let dtype = match npy.dtype() {
        npyz::DType::Plain(type_str) => type_str.to_string(),
        other => other.descr(),
    };
    let data = match dtype.as_str() {
        "<f4" => npy.into_vec::<f32>().map_err(|e| format(e.to_string()))?,
        "<f8" => npy.into_vec::<f64>().map_err(|e| format(e.to_string()))?.into_iter().map(|v| v as f32).collect(),
        other => {
            return Err(format(format!("dtype {other} is not supported; expected float32 or float64")));
        }
    };
    if Some(data.len()) != count {
        return Err(format(format!("the header's shape {shape:?} does not match the {} values stored", data.len())));
    }
    Ok(NpyArray { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
        write_npy_f32(&path, &[2, 4, 3], &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // The format's magic string and a header NumPy would write for this array.
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let header = String::from_utf8_lossy(&bytes[10..128]);
        assert!(header.contains("'descr': '<f4'"), "{header}");
        assert!(header.contains("'shape': (2, 4, 3"), "{header}");
        let back = read_npy_f32(&path).unwrap();
        assert_eq!(back, NpyArray { shape: vec![2, 4, 3], data });
        assert!(!dir.path().join("a.npy.partial").exists());
    }

    #[test]
    fn wrong_length_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.npy");
        assert!(write_npy_f32(&path, &[2, 2], &[1.0; 3]).is_err());
        assert!(!path.exists());
    }
}
