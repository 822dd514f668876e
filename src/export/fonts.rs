//! The font plotters draws text with, embedded so figures need no system fonts.

use std::sync::Once;

/// Registers the embedded Ubuntu Light as plotters' `sans-serif` (once per process).
pub fn register() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is a fixed, valid TTF shipped with egui's default fonts; failure would only
        // leave text undrawn, never corrupt a figure.
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}
