//! One classical method, chosen to run beside SDA on the same scenario.

use super::{EnsembleSmoother, FourDVar, ParticleSmoother};

/// A classical method and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassicalMethod {
    EnsembleSmoother(EnsembleSmoother),
    ParticleSmoother(ParticleSmoother),
    /// 4D-Var from SDA's members as first guesses (one minimisation each).
    FourDVar(FourDVar),
}

impl ClassicalMethod {
    /// A short name for tables and headings.
    pub fn label(&self) -> String {
        match self {
            Self::EnsembleSmoother(s) => format!(
                "EnKS ({}, N = {}{}{})",
                s.form.short_name(),
                s.members,
                if s.inflation != 1.0 { format!(", inflation {}", s.inflation) } else { String::new() },
                if s.rotate { ", rotated" } else { "" }
            ),
            Self::ParticleSmoother(p) => format!("particle smoother ({} particles)", p.particles),
            Self::FourDVar(_) => "4D-Var from SDA's members".into(),
        }
    }

    /// Whether the method starts from SDA's result (and so runs after it).
    pub fn needs_sda_members(&self) -> bool {
        matches!(self, Self::FourDVar(_))
    }
}
