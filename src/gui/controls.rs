//! The sampler controls: model, ensemble size, steps, corrections, τ, guidance and seed.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use eframe::egui::{self, Ui};

use super::strings as s;
use crate::pipeline::{Defaults, guidance_of};
use crate::sampler::{Guidance, SamplerPlan};
use crate::scenario::{GuidanceRule, MAX_MMPS_ITERATIONS, SamplerSettings};
use crate::score::ModelConfig;

/// A checkpoint the user can pick for the current system.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    pub dir: PathBuf,
    pub label: String,
}

/// The sampler settings being edited.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerControls {
    pub model: Option<PathBuf>,
    /// A model named by an opened scenario, chosen once the checkpoints on offer are known.
    pub wanted_model: Option<String>,
    pub samples: usize,
    pub steps: usize,
    pub corrections: usize,
    pub tau: f64,
    pub guidance: GuidanceRule,
    pub gamma: f64,
    pub zeta: f64,
    pub mmps_iterations: usize,
    pub seed: u64,
    pub frame_members: usize,
}

impl Default for SamplerControls {
    fn default() -> Self {
        let d = Defaults::INTERACTIVE;
        Self {
            model: None,
            wanted_model: None,
            samples: d.samples,
            steps: d.steps,
            corrections: d.corrections,
            tau: d.tau,
            guidance: d.guidance,
            gamma: d.gamma,
            zeta: d.zeta,
            mmps_iterations: d.mmps_iterations,
            seed: d.seed,
            frame_members: 64,
        }
    }
}

impl SamplerControls {
    pub fn plan(&self) -> SamplerPlan {
        SamplerPlan {
            samples: self.samples,
            steps: self.steps,
            corrections: self.corrections,
            tau: self.tau,
            seed: self.seed,
        }
    }

    pub fn guidance(&self) -> Guidance {
        guidance_of(self.guidance, self.gamma, self.zeta, self.mmps_iterations)
    }

    /// Takes the settings a scenario or lesson carries; unset ones keep their value.
    pub fn apply(&mut self, settings: &SamplerSettings) {
        let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        if let Some(v) = settings.samples {
            self.samples = clamp(v).clamp(1, 4096);
        }
        if let Some(v) = settings.steps {
            self.steps = clamp(v).clamp(1, 4096);
        }
        if let Some(v) = settings.corrections {
            self.corrections = clamp(v).min(64);
        }
        if let Some(v) = settings.tau {
            self.tau = v;
        }
        if let Some(v) = settings.gamma {
            self.gamma = v;
        }
        if let Some(v) = settings.seed {
            self.seed = v;
        }
        if let Some(v) = settings.guidance {
            self.guidance = v;
        }
        if let Some(v) = settings.zeta {
            self.zeta = v;
        }
        if let Some(v) = settings.mmps_iterations {
            self.mmps_iterations = clamp(v.clamp(1, MAX_MMPS_ITERATIONS));
        }
        if let Some(name) = &settings.model {
            self.wanted_model = Some(name.clone());
        }
    }

    /// The settings to store with a saved scenario.
    pub fn settings(&self) -> SamplerSettings {
        SamplerSettings {
            samples: Some(self.samples as u64),
            steps: Some(self.steps as u64),
            corrections: Some(self.corrections as u64),
            tau: Some(self.tau),
            gamma: Some(self.gamma),
            seed: Some(self.seed),
            guidance: Some(self.guidance),
            zeta: Some(self.zeta),
            mmps_iterations: Some(self.mmps_iterations as u64),
            model: self.model.as_ref().and_then(|m| m.file_name()).map(|n| n.to_string_lossy().into_owned()),
        }
    }

    /// Draws the controls; returns whether a setting changed.
    pub fn ui(&mut self, ui: &mut Ui, models: &[ModelChoice], exact: bool) -> bool {
        let before = self.clone();
        egui::Grid::new("sampler-controls").num_columns(2).spacing([8.0, 4.0]).show(ui, |ui| {
            let label = ui.label(s::MODEL).on_hover_text(s::MODEL_TIP);
            if exact {
                ui.label(s::MODEL_EXACT).on_hover_text(s::MODEL_EXACT_TIP);
            } else {
                let current = models
                    .iter()
                    .find(|m| Some(&m.dir) == self.model.as_ref())
                    .map_or("none found".to_string(), |m| m.label.clone());
                egui::ComboBox::from_id_salt("model")
                    .selected_text(current)
                    .show_ui(ui, |ui| {
                        for m in models {
                            ui.selectable_value(&mut self.model, Some(m.dir.clone()), &m.label);
                        }
                    })
                    .response
                    .labelled_by(label.id);
            }
            ui.end_row();
            ui.label(s::SAMPLES).on_hover_text(s::SAMPLES_TIP);
            ui.add(egui::Slider::new(&mut self.samples, 2..=1024).logarithmic(true)).on_hover_text(s::SAMPLES_TIP);
            ui.end_row();
            ui.label(s::STEPS).on_hover_text(s::STEPS_TIP);
            ui.add(egui::Slider::new(&mut self.steps, 4..=512).logarithmic(true)).on_hover_text(s::STEPS_TIP);
            ui.end_row();
            ui.label(s::CORRECTIONS).on_hover_text(s::CORRECTIONS_TIP);
            ui.add(egui::Slider::new(&mut self.corrections, 0..=8)).on_hover_text(s::CORRECTIONS_TIP);
            ui.end_row();
            ui.label(s::TAU).on_hover_text(s::TAU_TIP);
            ui.add(egui::Slider::new(&mut self.tau, 0.01..=1.0).logarithmic(true)).on_hover_text(s::TAU_TIP);
            ui.end_row();
            ui.label(s::GUIDANCE).on_hover_text(s::GUIDANCE_TIP);
            ui.horizontal(|ui| {
                for &rule in GuidanceRule::value_variants() {
                    let (label, tip) = rule_label(rule);
                    let button = ui.selectable_value(&mut self.guidance, rule, label);
                    if let Some(tip) = tip {
                        button.on_hover_text(tip);
                    }
                }
            })
            .response
            .on_hover_text(s::GUIDANCE_TIP);
            ui.end_row();
            match self.guidance {
                GuidanceRule::Sda => {
                    ui.label(s::GAMMA).on_hover_text(s::GAMMA_TIP);
                    ui.add(egui::Slider::new(&mut self.gamma, 1e-4..=1.0).logarithmic(true))
                        .on_hover_text(s::GAMMA_TIP);
                    ui.end_row();
                }
                GuidanceRule::Dps => {
                    ui.label(s::ZETA).on_hover_text(s::ZETA_TIP);
                    ui.add(egui::Slider::new(&mut self.zeta, 0.01..=10.0).logarithmic(true)).on_hover_text(s::ZETA_TIP);
                    ui.end_row();
                }
                GuidanceRule::Mmps => {
                    ui.label(s::MMPS_ITERATIONS).on_hover_text(s::MMPS_ITERATIONS_TIP);
                    ui.add(egui::Slider::new(&mut self.mmps_iterations, 1..=16).logarithmic(true))
                        .on_hover_text(s::MMPS_ITERATIONS_TIP);
                    ui.end_row();
                }
                GuidanceRule::None => {
                    // An empty row of a setting's height, so the controls below never move.
                    ui.label("");
                    ui.allocate_exact_size(egui::vec2(0.0, ui.spacing().interact_size.y), egui::Sense::hover());
                    ui.end_row();
                }
            }
            ui.label(s::SEED).on_hover_text(s::SEED_TIP);
            ui.horizontal(|ui| {
                ui.add(egui::DragValue::new(&mut self.seed)).on_hover_text(s::SEED_TIP);
                if ui.small_button(s::NEW_SEED).on_hover_text(s::SEED_TIP).clicked() {
                    self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 40;
                }
            });
            ui.end_row();
            ui.label(s::MEMBERS_SHOWN).on_hover_text(s::MEMBERS_SHOWN_TIP);
            ui.add(egui::Slider::new(&mut self.frame_members, 1..=256).logarithmic(true))
                .on_hover_text(s::MEMBERS_SHOWN_TIP);
            ui.end_row();
        });
        *self != before
    }
}

/// A guidance rule's button: its label and what it costs and buys, where that needs saying.
fn rule_label(rule: GuidanceRule) -> (&'static str, Option<&'static str>) {
    match rule {
        GuidanceRule::Sda => ("SDA", None),
        GuidanceRule::Mmps => ("MMPS", Some(s::MMPS_TIP)),
        GuidanceRule::Dps => ("DPS", None),
        GuidanceRule::None => ("none", None),
    }
}

/// The checkpoints under `root` that model `system`, labelled with their window half-width k.
pub fn models_for(root: &Path, system: &str) -> Vec<ModelChoice> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<ModelChoice> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|dir| {
            let config = ModelConfig::load(&dir.join("config.json")).ok()?;
            (config.system == system).then(|| {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ModelChoice { label: format!("{name} (k = {})", config.window / 2), dir }
            })
        })
        .collect();
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}
