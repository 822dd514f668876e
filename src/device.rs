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
    (Device::Cpu, format!("CPU ({threads} threads, {} matrix kernels)", matrix_kernels()))
}

/// Which micro-kernels the `gemm` crate (candle's CPU matmul and the direct kernels) runs here.
/// It is built with its AVX-512 kernels (`x86-v4`) and picks them at run time only when the
/// CPU reports `avx512f`, else its AVX2+FMA ones (gemm-common's `init_gemm_fn`); this repeats
/// that test so the choice can be printed.
pub fn matrix_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::is_x86_feature_detected!("fma") {
            return "AVX2+FMA";
        }
    }
    "portable"
}
