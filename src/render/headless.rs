//! Drawing a field offscreen, without a window: for tests and image exports.

use eframe::egui_wgpu::wgpu;

use super::{FieldImage, FieldPipeline};

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("no GPU adapter (not even a software one): {0}")]
    NoAdapter(String),
    #[error("could not open the GPU device: {0}")]
    Device(String),
    #[error("the field is empty or its values do not fill {width}×{height}")]
    InvalidField { width: usize, height: usize },
    #[error("reading the image back failed: {0}")]
    Readback(String),
}

/// Renders `image` into a `width`×`height` RGBA8 (non-sRGB) texture and returns its pixels,
/// row-major, 4 bytes each.
pub fn render_offscreen(image: &FieldImage, width: u32, height: u32) -> Result<Vec<u8>, HeadlessError> {
    if !image.is_valid() || width == 0 || height == 0 {
        return Err(HeadlessError::InvalidField { width: image.width, height: image.height });
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .map_err(|e| HeadlessError::NoAdapter(e.to_string()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
        .map_err(|e| HeadlessError::Device(e.to_string()))?;
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let mut pipeline = FieldPipeline::new(&device, format);
    pipeline.upload(&device, &queue, 0, image);
    let target = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen"),
        size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = target.create_view(&wgpu::TextureViewDescriptor::default());
    // Rows of a texture-to-buffer copy are padded to 256 bytes.
    let row = 4 * width;
    let padded = row.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: u64::from(padded) * u64::from(height),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("offscreen"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations { load: wgpu::LoadOp::Clear(wgpu::Color::BLACK), store: wgpu::StoreOp::Store },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pipeline.draw(&mut pass, 0);
    }
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture: &target,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
    );
    queue.submit([encoder.finish()]);
    let slice = buffer.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| HeadlessError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| HeadlessError::Readback(e.to_string()))?
        .map_err(|e| HeadlessError::Readback(e.to_string()))?;
    let mapped = slice.get_mapped_range().map_err(|e| HeadlessError::Readback(e.to_string()))?;
    let mut pixels = Vec::with_capacity((row * height) as usize);
    for r in 0..height as usize {
        let start = r * padded as usize;
        pixels.extend_from_slice(&mapped[start..start + row as usize]);
    }
    Ok(pixels)
}
