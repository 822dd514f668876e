// A scalar field (an R32Float texture, one texel per cell) drawn through a colormap.
// The colormaps are the same piecewise-linear tables as `src/render/colormap.rs`, so the
// CPU reference and this shader agree to rounding.

struct Params {
    lo: f32,
    hi: f32,
    // 0: diverging (blue–white–red), 1: sequential (dark purple–yellow).
    colormap: u32,
    // 1 when the target applies sRGB encoding itself: the shader then outputs linear values.
    linear_output: u32,
};

const MISSING: f32 = 3.4028235e38;

@group(0) @binding(0) var field: texture_2d<f32>;
@group(0) @binding(1) var<uniform> params: Params;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// One triangle covering the viewport; uv runs from (0, 0) at the top left to (1, 1).
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let x = f32((index << 1u) & 2u);
    let y = f32(index & 2u);
    var out: VertexOut;
    out.position = vec4<f32>(x * 2.0 - 1.0, 1.0 - y * 2.0, 0.0, 1.0);
    out.uv = vec2<f32>(x, y);
    return out;
}

const DIVERGING = array<vec3<f32>, 9>(
    vec3<f32>(0.019608, 0.188235, 0.380392),
    vec3<f32>(0.129412, 0.400000, 0.674510),
    vec3<f32>(0.262745, 0.576471, 0.764706),
    vec3<f32>(0.572549, 0.772549, 0.870588),
    vec3<f32>(0.968627, 0.968627, 0.968627),
    vec3<f32>(0.956863, 0.647059, 0.509804),
    vec3<f32>(0.839216, 0.376471, 0.301961),
    vec3<f32>(0.698039, 0.094118, 0.168627),
    vec3<f32>(0.403922, 0.000000, 0.121569),
);

const SEQUENTIAL = array<vec3<f32>, 9>(
    vec3<f32>(0.001462, 0.000466, 0.013866),
    vec3<f32>(0.078815, 0.054184, 0.211667),
    vec3<f32>(0.232077, 0.059889, 0.437695),
    vec3<f32>(0.390384, 0.100379, 0.501864),
    vec3<f32>(0.550287, 0.161158, 0.505719),
    vec3<f32>(0.716387, 0.214982, 0.475290),
    vec3<f32>(0.868793, 0.287728, 0.409303),
    vec3<f32>(0.967671, 0.439703, 0.359810),
    vec3<f32>(0.987053, 0.991438, 0.749504),
);

fn colormap(which: u32, s: f32) -> vec3<f32> {
    let u = clamp(s, 0.0, 1.0) * 8.0;
    let i = min(u32(floor(u)), 7u);
    let f = u - f32(i);
    if which == 0u {
        return mix(DIVERGING[i], DIVERGING[i + 1u], f);
    }
    return mix(SEQUENTIAL[i], SEQUENTIAL[i + 1u], f);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let size = textureDimensions(field);
    let cell = min(vec2<u32>(in.uv * vec2<f32>(size)), size - vec2<u32>(1u));
    let value = textureLoad(field, cell, 0).r;
    let span = max(params.hi - params.lo, 1e-12);
    var rgb = colormap(params.colormap, (value - params.lo) / span);
    // Cells without a value arrive as MISSING (the largest f32; NaN comparisons are not
    // reliable across drivers) and are drawn mid-grey.
    if value >= MISSING {
        rgb = vec3<f32>(0.5, 0.5, 0.5);
    }
    if params.linear_output == 1u {
        rgb = srgb_to_linear(rgb);
    }
    return vec4<f32>(rgb, 1.0);
}
