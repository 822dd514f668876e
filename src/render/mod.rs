//! GPU drawing of scalar fields for the GUI, independent of what the fields mean.
//!
//! A field is a grid of `f32` values drawn through a colormap by the WGSL shader
//! `shaders/colormap.wgsl`, either inside egui (a paint callback whose GPU resources live in
//! egui's callback resources) or offscreen into an RGBA buffer (tests, exports). The colormaps
//! also exist on the CPU ([`Colormap::rgb`]) as the reference the shader is tested against.

mod colormap;
mod field;
mod headless;

pub use colormap::Colormap;
pub use field::{FieldCallback, FieldImage, FieldPipeline};
pub use headless::{HeadlessError, render_offscreen};

/// The field shader's WGSL source.
pub const COLORMAP_WGSL: &str = include_str!("../../shaders/colormap.wgsl");
