//! Every piece of user-facing text in the app: labels, tooltips (one sentence on what each
//! control trades) and explanations, kept together so they read consistently.

pub const APP_TITLE: &str = "SDA Lab";
pub const DRAFT_RUNNING: &str = "draft (a small quick posterior while you edit)";
pub const DRAFT_DONE: &str = "draft done · the full posterior follows when the input settles";
pub const DRAFT_FAILED: &str = "the draft failed · the full posterior follows when the input settles";

// Sampler controls.
pub const MODEL: &str = "Model";
pub const MODEL_TIP: &str = "The trained prior: a larger window k sees longer stretches of the trajectory and fits the dynamics better, at a higher cost per step.";
pub const MODEL_EXACT: &str = "exact Gaussian prior";
pub const MODEL_EXACT_TIP: &str =
    "The linear system's prior is known exactly, so no network is needed: what you see is the sampler's own error.";
pub const SAMPLES: &str = "Ensemble size";
pub const SAMPLES_TIP: &str =
    "More members describe the posterior better (rarer modes, smoother statistics) and cost proportionally more time.";
pub const STEPS: &str = "Steps";
pub const STEPS_TIP: &str =
    "Reverse-diffusion steps: more steps follow the noise schedule more faithfully but take longer.";
pub const CORRECTIONS: &str = "Corrections C";
pub const CORRECTIONS_TIP: &str =
    "Langevin corrections after each step pull samples back onto the posterior; each one costs a network call.";
pub const TAU: &str = "τ";
pub const TAU_TIP: &str = "Langevin step size: larger moves faster but can overshoot and blur the posterior.";
pub const GUIDANCE: &str = "Guidance";
pub const GUIDANCE_TIP: &str = "How observations steer the prior: SDA's Gaussian likelihood approximation, MMPS's moment-matched likelihood, DPS's gradient step, or none (samples from the prior).";
pub const MMPS_TIP: &str = "Moment-matching posterior sampling: the likelihood under the denoiser's own covariance (Tweedie), solved by conjugate gradients; each iteration costs one more backward pass per evaluation. With the linear system's exact prior it reaches the Kalman smoother without Langevin corrections. With the bundled learned priors it is less accurate than SDA: their Jacobians are no covariances at high noise, and the trajectories where that shows take SDA's step.";
pub const MMPS_ITERATIONS: &str = "CG iterations";
pub const MMPS_ITERATIONS_TIP: &str = "Conjugate-gradient iterations of MMPS per network evaluation: each costs one backward pass through the network. More solve the likelihood more exactly; a few are usually enough.";
pub const GAMMA: &str = "γ";
pub const GAMMA_TIP: &str = "SDA's variance inflation: larger is more cautious early in the diffusion, smaller follows the observations more tightly.";
pub const ZETA: &str = "ζ";
pub const ZETA_TIP: &str =
    "DPS's step scale: larger pulls harder towards the observations and can destabilise sampling.";
pub const SEED: &str = "Seed";
pub const SEED_TIP: &str = "Fixes the random draws: the same seed and settings give the same ensemble.";
pub const RUN: &str = "Run";
pub const RUN_TIP: &str = "Sample the posterior with these settings (edits re-run it automatically).";
pub const PAUSE: &str = "Pause";
pub const RESUME: &str = "Resume";
pub const PAUSE_TIP: &str = "Hold the sampler after its current step; the last frame stays on screen.";
pub const STEP: &str = "Step";
pub const STEP_TIP: &str = "While paused, advance the sampler by one step.";
pub const CANCEL: &str = "Cancel";
pub const CANCEL_TIP: &str = "Stop the running job; nothing is kept from it.";
pub const AUTO_RUN: &str = "Re-run on edit";
pub const AUTO_RUN_TIP: &str =
    "Replace the running job whenever the observations change, so the posterior follows the pen.";

// Display.
pub const SHOW_TWEEDIE: &str = "Show the Tweedie estimate";
pub const SHOW_TWEEDIE_TIP: &str =
    "Draw what each noisy sample will become (the denoised estimate) instead of the noisy state x(t).";
pub const SCRUB: &str = "Replay step";
pub const SCRUB_TIP: &str = "After a run, go back to any stored step of the reverse diffusion.";
pub const MEMBERS_SHOWN: &str = "Members drawn";
pub const MEMBERS_SHOWN_TIP: &str =
    "How many members are streamed and drawn while sampling; statistics always use the whole ensemble.";

// Observation editing.
pub const OBSERVE: &str = "Observations";
pub const EDIT_MODE: &str = "Edit observations";
pub const EDIT_MODE_TIP: &str =
    "Click to add an observation, drag one to move it, right-click to delete it. Off: drag pans, scroll zooms.";
pub const OPERATOR: &str = "Operator";
pub const OPERATOR_TIP: &str =
    "What a new observation measures: the value, its absolute value (sign lost) or its square.";
pub const FROM_TRUTH: &str = "Value from truth + noise";
pub const FROM_TRUTH_TIP: &str =
    "On: a new observation is the truth plus noise. Off: it is exactly where you click (try contradicting the truth).";
pub const NOISE: &str = "Noise σ";
pub const NOISE_TIP: &str =
    "Observation noise std: smaller trusts observations more; existing observations keep their standardised noise.";
pub const RESAMPLE: &str = "Resample noise";
pub const RESAMPLE_TIP: &str = "Draw new observation noise around the truth.";
pub const CLEAR: &str = "Clear";
pub const CLEAR_TIP: &str = "Remove every observation (undo brings them back).";
pub const UNDO: &str = "Undo";
pub const REDO: &str = "Redo";
pub const BRUSH: &str = "Brush";
pub const BRUSH_TIP: &str = "Drag over the observations panel to observe cells.";
pub const ERASER: &str = "Eraser";
pub const ERASER_TIP: &str = "Drag over the observations panel to stop observing cells.";
pub const PRESETS: &str = "Pattern";
pub const PRESETS_TIP: &str =
    "Replace the observations by a standard pattern, drawn from the truth with the current noise.";

// Views.
pub const VIEW_SERIES: &str = "Time series";
pub const VIEW_PHASE: &str = "Phase space";
pub const VIEW_FIELDS: &str = "Fields";
pub const VIEW_DIAGNOSTICS: &str = "Diagnostics";
pub const SERIES_HINT: &str =
    "With Edit on: click to observe, drag an observation to move it, right-click to remove it.";
pub const PHASE_HINT: &str = "Drag to rotate. Grey: the attractor. Coloured: members, by mode.";
pub const SNAPSHOT_HINT: &str = "One column per state; with Edit on, paint observations on the observations row.";
pub const PIN_MEMBER: &str = "pinned member";
pub const PIN_MEMBER_TIP: &str =
    "The member row follows this one member through every state, so you can see one plausible flow evolve.";
pub const FIRST_STATE: &str = "first state";
pub const FIRST_STATE_TIP: &str = "The trajectory is longer than fits across: scroll the columns.";
pub const VORTICITY: &str = "vorticity";
pub const SPREAD: &str = "spread";
pub const FIELD_HINT: &str = "Click a cell for its time series. Time runs down, stations across.";
pub const TRUTH: &str = "truth";
pub const MEAN: &str = "posterior mean";
pub const PRIOR_MEAN: &str = "prior mean (no guidance)";
pub const BAND: &str = "mean ± 2σ";
pub const EXACT: &str = "exact (Kalman/RTS) mean ± 2σ";
pub const OBSERVED: &str = "observations ± 2σ_y";
pub const MODES: &str = "Modes";
pub const MODES_TIP: &str = "Clusters of whole trajectories: each is a distinct explanation of the observations, with its share of the ensemble.";

// Diagnostics.
pub const TRY_THIS: &str = "Try this: ";
pub const SPECTRUM: &str = "Kinetic energy spectrum of the vorticity: the drawn members, their mean, and the truth";
pub const SPECTRUM_STATE: &str = "state";
pub const SPECTRUM_X: &str = "log10 wavenumber k";
pub const SPECTRUM_Y: &str = "log10 E(k)";
pub const SPECTRUM_MEMBERS: &str = "members (mean of their spectra)";
pub const RMSE_SPREAD: &str = "RMSE of the mean vs truth, spread and CRPS, per state";
pub const CRPS_TIP: &str = "CRPS: the continuous ranked probability score of the members against the truth, averaged over the values (data units, lower is better; it rewards both a right and a sharp ensemble). Spread/skill: the RMS spread over the RMS error of the mean; below 1 the ensemble is overconfident, above 1 underconfident.";
pub const MISFIT: &str = "Observation misfit over diffusion steps (RMS of residual / σ_y; 1 is ideal)";
pub const RANK: &str = "Rank histogram of the truth in the ensemble (flat is calibrated)";

// Files.
pub const MENU_FILE: &str = "File";
pub const MENU_LESSONS: &str = "Lessons";
pub const OPEN_SCENARIO: &str = "Open scenario…";
pub const SAVE_SCENARIO: &str = "Save scenario…";
pub const EXPORT_PNG: &str = "Export view as PNG…";
pub const EXPORT_SVG: &str = "Export view as SVG…";
pub const EXPORT_NPY: &str = "Export ensemble as .npy…";
pub const AUTO_RANGE: &str = "Colours follow the ensemble";
pub const AUTO_RANGE_TIP: &str = "Off: the colour range is fixed by the truth and the observations, so their colours never change during a run (values beyond it show at the ends of the colour bar). On: the range also covers the posterior mean, and moves as it does.";
pub const EXPORT_GIF: &str = "Export reverse diffusion as GIF…";
pub const EXPORT_GIF_TIP: &str = "An animated GIF of the finished run's replay in the view on screen (the main view for the phase space), one picture per stored step, captioned with the step and diffusion time t.";
pub const EXPORT_FIGURE_TITLE: &str = "Export view";
pub const FOLDER_UP: &str = "Up";
pub const FOLDER_UP_TIP: &str = "The folder above";
pub const FOLDER_HOME: &str = "Home";
pub const FOLDER_HOME_TIP: &str = "Your documents folder (or home folder)";
pub const FOLDER_LISTING: &str = "listing the folder…";
pub const FOLDER_EMPTY: &str = "no sub-folder and no file of this kind here";
pub const FILE_NAME: &str = "File name";
pub const FOLDER: &str = "Folder";
pub const OPEN: &str = "Open";
pub const SAVE: &str = "Save";
pub const REPLACE_QUESTION: &str = "already exists. Replace it?";
pub const REPLACE: &str = "Replace";
pub const KEEP: &str = "Keep it";
pub const NO_TRUTH: &str = "This scenario has no truth: place observation values by hand.";
pub const SYSTEM: &str = "System";
pub const SYSTEM_TIP: &str = "Start a new twin experiment: a fresh simulated truth of this system, observed sparsely.";
pub const NEW_TRUTH: &str = "New truth";
pub const NEW_SEED: &str = "new";

// Comparison with classical methods.
pub const COMPARE_HEADING: &str = "Classical methods";
pub const COMPARE: &str = "Compare with";
pub const COMPARE_TIP: &str = "Run a classical method on the same observations and show it beside SDA, on the same axes and in the same colours, with a table of scores.";
pub const COMPARE_NONE: &str = "nothing";
pub const COMPARE_ENKS: &str = "ensemble Kalman smoother";
pub const COMPARE_ENKS_TIP: &str = "EnKS: a Gaussian update of the whole trajectory ensemble at each observation. It is exact for linear-Gaussian problems; with a nonlinear model it keeps one broad mode where the posterior may have several.";
pub const COMPARE_PARTICLE: &str = "particle smoother";
pub const COMPARE_PARTICLE_TIP: &str = "Bootstrap particle smoother: simulate many trajectories, weight them by the observations, resample. Right in the limit of many particles; costly, and degenerate over long windows.";
pub const COMPARE_4DVAR: &str = "4D-Var";
pub const COMPARE_4DVAR_TIP: &str = "Weak-constraint 4D-Var: the most probable trajectory, found by L-BFGS from each of SDA's members. Distinct minima are the posterior's modes; it gives no spread around them.";
pub const ANALYSIS_FORM: &str = "Analysis";
pub const ANALYSIS_FORM_TIP: &str = "Square root: a deterministic transform of the members. Perturbed observations: each member assimilates its own noisy copy (needed for |x| and x² observations). DEnKF: half the gain on the anomalies.";
pub const INFLATION: &str = "Inflation";
pub const INFLATION_TIP: &str =
    "Multiplies the ensemble's spread after each analysis, to make up for what a small ensemble underestimates.";
pub const ROTATE: &str = "Random rotation";
pub const ROTATE_TIP: &str = "Turns the members around their mean after each analysis (same mean and covariance), so that square-root ensembles do not collapse onto a few outliers.";
pub const PARTICLES: &str = "Particles";
pub const PARTICLES_TIP: &str =
    "Trajectories the particle smoother simulates; the ensemble size sets how many are drawn for display.";
pub const SYSTEMATIC: &str = "Systematic resampling";
pub const SYSTEMATIC_TIP: &str =
    "One uniform draw spaced evenly over the weights (lower variance) instead of independent draws.";
pub const SCORES_METHOD: &str = "method";
pub const SCORES_RMSE: &str = "RMSE";
pub const SCORES_RMSE_TIP: &str =
    "Root mean square error of the ensemble mean against the truth, over the whole trajectory.";
pub const SCORES_SPREAD: &str = "spread";
pub const SCORES_SPREAD_TIP: &str = "Root mean ensemble variance: how uncertain the method says it is.";
pub const SCORES_LIKELIHOOD: &str = "log p(y|x)";
pub const SCORES_LIKELIHOOD_TIP: &str =
    "Mean over members of the observations' log-likelihood: how well members fit the data.";
pub const SCORES_TIME: &str = "time";
pub const SCORES_MODES: &str = "modes";
pub const COMPARE_FIELDS: &str = "Kolmogorov flow is compared on the command line: `sdalab assimilate --method enks|particle|4dvar` on a saved scenario.";
pub const COMPARE_WAITING: &str = "waiting for the comparison…";
