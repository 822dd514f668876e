//! Choosing where the networks run.

use candle_core::Device;

/// CUDA or Metal when the crate was built with the `cuda` / `metal` feature and such a GPU is
/// present, the CPU otherwise. Returns the device and a line saying which it is.
pub fn select_device() -> (Device, String) {
    #[cfg(feature = "cuda")]
    if let Ok(device) = Device::new_cuda(0) {
        return (device, "CUDA GPU 0".into());
    }
    #[cfg(feature = "metal")]
    if let Ok(device) = Device::new_metal(0) {
        return (device, "Metal GPU 0".into());
    }
    let threads = rayon::current_num_threads();
    (Device::Cpu, format!("CPU ({threads} threads)"))
}
