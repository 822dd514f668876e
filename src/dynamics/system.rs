//! The catalogue of systems a scenario can name.

use super::{Kolmogorov, LinearGaussian, Lorenz63, Lorenz96, MarkovChain};

/// One of SDA Lab's simulated systems.
#[derive(Debug, Clone)]
pub enum System {
    Lorenz63(Lorenz63),
    Lorenz96(Lorenz96),
    /// 2-D Kolmogorov flow (vorticity on a 32×32 grid).
    Kolmogorov(Kolmogorov),
    /// The linear-Gaussian toy; its model travels with the scenario.
    Linear(LinearGaussian),
}

impl System {
    /// Names of the systems that need no parameters (`linear` carries its model instead).
    pub const NAMED: [&'static str; 3] = ["lorenz63", "lorenz96", "kolmogorov"];

    /// The parameter-free system called `name`, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "lorenz63" => Some(Self::Lorenz63(Lorenz63::new())),
            "lorenz96" => Some(Self::Lorenz96(Lorenz96::new())),
            "kolmogorov" => Some(Self::Kolmogorov(Kolmogorov::new())),
            _ => None,
        }
    }

    /// The system as a Markov chain.
    pub fn chain(&self) -> &dyn MarkovChain {
        match self {
            Self::Lorenz63(s) => s,
            Self::Lorenz96(s) => s,
            Self::Kolmogorov(s) => s,
            Self::Linear(s) => s,
        }
    }

    pub fn name(&self) -> &'static str {
        self.chain().name()
    }
}
