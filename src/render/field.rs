//! The field pipeline: one render pipeline for the colormap shader, and per-field textures.

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};

use super::{COLORMAP_WGSL, Colormap};

/// A grid of values to draw: row-major, `height` rows of `width` cells, the first row at the top.
/// NaN cells (no value) are drawn grey.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldImage {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
    /// The values drawn at the two ends of the colormap.
    pub lo: f32,
    pub hi: f32,
    pub colormap: Colormap,
}

impl FieldImage {
    /// Whether the values fill the grid and the size is drawable.
    pub fn is_valid(&self) -> bool {
        self.width > 0 && self.height > 0 && self.values.len() == self.width * self.height
    }

    fn params(&self, linear_output: bool) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[0..4].copy_from_slice(&self.lo.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.hi.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.colormap.index().to_le_bytes());
        bytes[12..16].copy_from_slice(&u32::from(linear_output).to_le_bytes());
        bytes
    }
}

/// A field's GPU texture and the bind group that reads it.
struct Slot {
    size: (usize, usize),
    texture: wgpu::Texture,
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// The colormap pipeline for one target format, and the textures of the fields drawn with it
/// (one slot per on-screen panel, reused while the size stays the same).
pub struct FieldPipeline {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    linear_output: bool,
    slots: HashMap<u64, Slot>,
}

impl FieldPipeline {
    pub fn new(device: &wgpu::Device, target: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("colormap.wgsl"),
            source: wgpu::ShaderSource::Wgsl(COLORMAP_WGSL.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("field"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("field"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("field"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        Self { pipeline, layout, linear_output: target.is_srgb(), slots: HashMap::new() }
    }

    /// Uploads `image` into slot `slot`, creating or resizing its texture as needed.
    pub fn upload(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, slot: u64, image: &FieldImage) {
        if !image.is_valid() {
            return;
        }
        let size = (image.width, image.height);
        if self.slots.get(&slot).is_none_or(|s| s.size != size) {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("field values"),
                size: wgpu::Extent3d {
                    width: image.width as u32,
                    height: image.height as u32,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let params = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("field params"),
                size: 16,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("field"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&view) },
                    wgpu::BindGroupEntry { binding: 1, resource: params.as_entire_binding() },
                ],
            });
            self.slots.insert(slot, Slot { size, texture, params, bind_group });
        }
        let Some(s) = self.slots.get(&slot) else { return };
        // The shader knows missing cells by the largest f32 (see colormap.wgsl).
        let bytes: Vec<u8> =
            image.values.iter().flat_map(|v| if v.is_nan() { f32::MAX } else { *v }.to_le_bytes()).collect();
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &s.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            &bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * image.width as u32),
                rows_per_image: Some(image.height as u32),
            },
            wgpu::Extent3d { width: image.width as u32, height: image.height as u32, depth_or_array_layers: 1 },
        );
        queue.write_buffer(&s.params, 0, &image.params(self.linear_output));
    }

    /// Draws slot `slot` over the render pass's viewport.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, slot: u64) {
        if let Some(s) = self.slots.get(&slot) {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &s.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}

/// An egui paint callback drawing one field; the pipeline lives in egui's callback resources
/// (put there once with [`FieldCallback::install`]).
pub struct FieldCallback {
    pub slot: u64,
    pub image: Arc<FieldImage>,
}

impl FieldCallback {
    /// Creates the pipeline for egui's target format and stores it in the renderer.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let pipeline = FieldPipeline::new(&render_state.device, render_state.target_format);
        render_state.renderer.write().callback_resources.insert(pipeline);
    }
}

impl CallbackTrait for FieldCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(pipeline) = resources.get_mut::<FieldPipeline>() {
            pipeline.upload(device, queue, self.slot, &self.image);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: eframe::egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        if let Some(pipeline) = resources.get::<FieldPipeline>() {
            pipeline.draw(pass, self.slot);
        }
    }
}
