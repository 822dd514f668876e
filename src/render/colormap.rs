//! The colormaps, as piecewise-linear tables shared with `shaders/colormap.wgsl`.

/// Nine control points each, sRGB components in 0..1, evenly spaced over the range.
const DIVERGING: [[f32; 3]; 9] = [
    [0.019608, 0.188235, 0.380392],
    [0.129412, 0.400000, 0.674510],
    [0.262745, 0.576471, 0.764706],
    [0.572549, 0.772549, 0.870588],
    [0.968627, 0.968627, 0.968627],
    [0.956863, 0.647059, 0.509804],
    [0.839216, 0.376471, 0.301961],
    [0.698039, 0.094118, 0.168627],
    [0.403922, 0.000000, 0.121569],
];

const SEQUENTIAL: [[f32; 3]; 9] = [
    [0.001462, 0.000466, 0.013866],
    [0.078815, 0.054184, 0.211667],
    [0.232077, 0.059889, 0.437695],
    [0.390384, 0.100379, 0.501864],
    [0.550287, 0.161158, 0.505719],
    [0.716387, 0.214982, 0.475290],
    [0.868793, 0.287728, 0.409303],
    [0.967671, 0.439703, 0.359810],
    [0.987053, 0.991438, 0.749504],
];

/// How values map to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colormap {
    /// Blue–white–red, for signed quantities around a centre (values, differences).
    Diverging,
    /// Dark purple to pale yellow, for magnitudes (spread).
    Sequential,
}

impl Colormap {
    /// The shader's colormap index.
    pub fn index(self) -> u32 {
        match self {
            Self::Diverging => 0,
            Self::Sequential => 1,
        }
    }

    /// sRGB colour (0..1) of `value` on the scale `lo..hi`; NaN is grey. Same arithmetic as the shader.
    pub fn rgb(self, value: f32, lo: f32, hi: f32) -> [f32; 3] {
        if value.is_nan() {
            return [0.5; 3];
        }
        let span = (hi - lo).max(1e-12);
        let u = ((value - lo) / span).clamp(0.0, 1.0) * 8.0;
        let i = (u.floor() as usize).min(7);
        let f = u - i as f32;
        let table = match self {
            Self::Diverging => &DIVERGING,
            Self::Sequential => &SEQUENTIAL,
        };
        let (a, b) = (table[i], table[i + 1]);
        [0, 1, 2].map(|c| a[c] + (b[c] - a[c]) * f)
    }

    /// 8-bit sRGB colour of `value`.
    pub fn rgba8(self, value: f32, lo: f32, hi: f32) -> [u8; 4] {
        let [r, g, b] = self.rgb(value, lo, hi);
        let q = |c: f32| (c * 255.0).round().clamp(0.0, 255.0) as u8;
        [q(r), q(g), q(b), 255]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_centre_hit_the_table() {
        let c = Colormap::Diverging;
        assert_eq!(c.rgb(-1.0, -1.0, 1.0), DIVERGING[0]);
        assert_eq!(c.rgb(1.0, -1.0, 1.0), DIVERGING[8]);
        assert_eq!(c.rgb(0.0, -1.0, 1.0), DIVERGING[4]);
        assert_eq!(c.rgb(5.0, -1.0, 1.0), DIVERGING[8], "values beyond the range clamp");
        assert_eq!(Colormap::Sequential.rgba8(f32::NAN, 0.0, 1.0), [128, 128, 128, 255]);
    }
}
