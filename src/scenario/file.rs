//! The JSON form of a scenario (DESIGN §4): raw serde types, parsing with entry paths, and a
//! pretty writer that keeps number lists on one line.

use nalgebra::{DMatrix, DVector};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::excerpt;
use super::{SamplerSettings, Scenario, ScenarioError};
use crate::dynamics::{Kolmogorov, KolmogorovSettings, LinearGaussian, MarkovChain, ModelError, System};
use crate::observe::{Observation, ObservationOp, OperatorKind};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    system: Value,
    length: i64,
    #[serde(default)]
    observations: Vec<ObservationEntry>,
    #[serde(default)]
    truth: Option<Vec<Vec<f64>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sampler: Option<SamplerSettings>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservationEntry {
    t: i64,
    op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    indices: Option<Vec<i64>>,
    value: f64,
    std: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearModelEntry {
    name: String,
    transition: Vec<Vec<f64>>,
    offset: Vec<f64>,
    process_cov: Vec<Vec<f64>>,
    initial_mean: Vec<f64>,
    initial_cov: Vec<Vec<f64>>,
}

/// Parses a scenario without the final validation pass.
pub(super) fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let raw: ScenarioFile = deserialize_str(text)?;
    let system = system_from_value(&raw.system)?;
    if raw.length < 1 {
        return Err(ScenarioError::Length { length: raw.length });
    }
    let length = raw.length as usize;
    let dim = system.chain().state_dim();
    let observations = raw
        .observations
        .into_iter()
        .enumerate()
        .map(|(k, entry)| observation_from_entry(k, entry, length, dim))
        .collect::<Result<Vec<_>, _>>()?;
    let truth = match raw.truth {
        None => None,
        Some(rows) => {
            if rows.len() != length {
                return Err(ScenarioError::Invalid {
                    at: "truth".into(),
                    message: format!("expected {length} states, found {}", rows.len()),
                });
            }
            if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != dim) {
                return Err(ScenarioError::Invalid {
                    at: format!("truth[{i}]"),
                    message: format!("expected {dim} components, found {}", row.len()),
                });
            }
            Some(rows.concat())
        }
    };
    Ok(Scenario { system, length, observations, truth, sampler: raw.sampler })
}

/// A system from JSON text holding either a system (a name or a linear model object) or a whole
/// scenario, whose system is taken. Used where a command needs only the model.
pub fn system_from_json_str(text: &str) -> Result<System, ScenarioError> {
    let value: Value = deserialize_str(text)?;
    match value.get("system") {
        Some(system) => system_from_value(system),
        None => system_from_value(&value),
    }
}

fn system_from_value(value: &Value) -> Result<System, ScenarioError> {
    let schema = |message: &str| ScenarioError::Schema { at: "system".into(), message: message.into(), position: None };
    match value {
        Value::String(name) if name == "linear" => Err(schema(
            "`linear` carries its model: give an object with name, transition, offset, process_cov, initial_mean, initial_cov",
        )),
        Value::String(name) => System::named(name).ok_or_else(|| ScenarioError::UnknownSystem { name: excerpt(name) }),
        Value::Object(map) => match map.get("name") {
            Some(Value::String(name)) if name == "linear" => linear_from_value(value),
            Some(Value::String(name)) if name == "kolmogorov" => kolmogorov_from_value(value),
            Some(Value::String(name)) if map.len() == 1 => {
                System::named(name).ok_or_else(|| ScenarioError::UnknownSystem { name: excerpt(name) })
            }
            Some(Value::String(name)) if System::named(name).is_some() => {
                Err(schema(&format!("`{name}` takes no parameters; write \"system\": \"{name}\"")))
            }
            Some(Value::String(name)) => Err(ScenarioError::UnknownSystem { name: excerpt(name) }),
            _ => Err(schema("a system object needs a string `name`")),
        },
        _ => Err(schema("expected a system name (\"lorenz63\", …) or a linear model object")),
    }
}

/// `{"name": "kolmogorov", "grid": …, "resolution": …, "reynolds": …, …}`, each size optional.
fn kolmogorov_from_value(value: &Value) -> Result<System, ScenarioError> {
    let mut fields = value.clone();
    if let Value::Object(map) = &mut fields {
        map.remove("name");
    }
    let settings: KolmogorovSettings =
        serde_path_to_error::deserialize(&fields).map_err(|e| ScenarioError::Schema {
            at: prefixed_path("system", &e.path().to_string()),
            message: strip_position(&e.inner().to_string()),
            position: None,
        })?;
    Ok(System::Kolmogorov(Kolmogorov::with_settings(settings)?))
}

fn linear_from_value(value: &Value) -> Result<System, ScenarioError> {
    let entry: LinearModelEntry = serde_path_to_error::deserialize(value).map_err(|e| ScenarioError::Schema {
        at: prefixed_path("system", &e.path().to_string()),
        message: strip_position(&e.inner().to_string()),
        position: None,
    })?;
    let model = LinearGaussian::new(
        matrix(&entry.transition, "system.transition")?,
        DVector::from_vec(entry.offset),
        matrix(&entry.process_cov, "system.process_cov")?,
        DVector::from_vec(entry.initial_mean),
        matrix(&entry.initial_cov, "system.initial_cov")?,
    )?;
    Ok(System::Linear(model))
}

/// A matrix from rows, which must all have the same length.
fn matrix(rows: &[Vec<f64>], field: &str) -> Result<DMatrix<f64>, ModelError> {
    let ncols = rows.first().map_or(0, Vec::len);
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != ncols) {
        return Err(ModelError::Shape {
            field: format!("{field}[{i}]"),
            expected: format!("{ncols} entries, like row 0"),
            found: row.len().to_string(),
        });
    }
    Ok(DMatrix::from_fn(rows.len(), ncols, |r, c| rows[r][c]))
}

fn observation_from_entry(
    k: usize,
    entry: ObservationEntry,
    length: usize,
    dim: usize,
) -> Result<Observation, ScenarioError> {
    let at = format!("observations[{k}]");
    let kind: OperatorKind = entry.op.parse().map_err(|_| ScenarioError::UnknownOp {
        at: at.clone(),
        op: excerpt(&entry.op),
        known: OperatorKind::known(),
    })?;
    if entry.t < 0 {
        return Err(ScenarioError::TimeOutOfRange { at, t: entry.t, length });
    }
    let operand =
        |problem: &str| ScenarioError::Operand { at: at.clone(), op: kind.to_string(), problem: problem.into() };
    let indices: Vec<i64> = match (kind.takes_indices(), entry.index, entry.indices) {
        (true, Some(_), _) => return Err(operand("takes `indices` (a list), not `index`")),
        (true, None, None) => return Err(operand("needs `indices` (a list of components)")),
        (true, None, Some(ix)) if ix.is_empty() => return Err(ScenarioError::EmptyIndices { at }),
        (true, None, Some(ix)) => ix,
        (false, _, Some(_)) => return Err(operand("takes one `index`, not `indices`")),
        (false, None, None) => return Err(operand("needs `index` (one component)")),
        (false, Some(i), None) => vec![i],
    };
    if let Some((j, &index)) = indices.iter().enumerate().find(|(_, i)| **i < 0) {
        let at = if kind.takes_indices() { format!("{at}.indices[{j}]") } else { format!("{at}.index") };
        return Err(ScenarioError::IndexOutOfRange { at, index, dim });
    }
    let indices: Vec<usize> = indices.into_iter().map(|i| i as usize).collect();
    let op = ObservationOp::new(kind, &indices).ok_or_else(|| operand("has the wrong number of components"))?;
    Ok(Observation { t: entry.t as usize, op, value: entry.value, std: entry.std })
}

/// The scenario as JSON text.
pub(super) fn write(scenario: &Scenario) -> String {
    let dim = scenario.state_dim();
    let system = match &scenario.system {
        System::Linear(model) => {
            let rows = |m: &DMatrix<f64>| m.row_iter().map(|r| r.iter().copied().collect()).collect();
            serde_json::to_value(LinearModelEntry {
                name: "linear".into(),
                transition: rows(model.transition_matrix()),
                offset: model.offset().iter().copied().collect(),
                process_cov: rows(&model.process_cov()),
                initial_mean: model.initial_prior().mean().iter().copied().collect(),
                initial_cov: rows(&model.initial_prior().covariance()),
            })
            .unwrap_or(Value::Null)
        }
        System::Kolmogorov(flow) if *flow.settings() != KolmogorovSettings::default() => {
            let mut value = serde_json::to_value(flow.settings()).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("name".into(), Value::String("kolmogorov".into()));
            }
            value
        }
        other => Value::String(other.name().into()),
    };
    let observations = scenario
        .observations
        .iter()
        .map(|o| {
            let ix: Vec<i64> = o.op.indices().iter().map(|&i| i as i64).collect();
            let (index, indices) =
                if o.op.kind().takes_indices() { (None, Some(ix)) } else { (ix.first().copied(), None) };
            ObservationEntry { t: o.t as i64, op: o.op.kind().to_string(), index, indices, value: o.value, std: o.std }
        })
        .collect();
    let file = ScenarioFile {
        system,
        length: scenario.length as i64,
        observations,
        truth: scenario.truth.as_ref().map(|t| t.chunks(dim.max(1)).map(<[f64]>::to_vec).collect()),
        sampler: scenario.sampler.clone(),
    };
    let mut out = String::new();
    // Serialising plain data with finite numbers cannot fail.
    write_pretty(&serde_json::to_value(file).unwrap_or(Value::Null), 0, &mut out);
    out.push('\n');
    out
}

/// Pretty JSON, except that arrays of plain values stay on one line (a state, a matrix row).
fn write_pretty(value: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Value::Array(items) if items.iter().all(|v| !v.is_array() && !v.is_object()) => {
            let inner: Vec<String> = items.iter().map(Value::to_string).collect();
            out.push('[');
            out.push_str(&inner.join(", "));
            out.push(']');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_pretty(item, indent + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::Object(map) if map.values().all(|v| !v.is_array() && !v.is_object()) && indent >= 2 => {
            // Small flat objects (one observation) on one line.
            let inner: Vec<String> = map.iter().map(|(k, v)| format!("{}: {v}", Value::String(k.clone()))).collect();
            out.push_str("{ ");
            out.push_str(&inner.join(", "));
            out.push_str(" }");
        }
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_pretty(item, indent + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Deserialises JSON text, turning errors into syntax errors (with line and column) or schema
/// errors (with the path of the entry).
fn deserialize_str<T: DeserializeOwned>(text: &str) -> Result<T, ScenarioError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T =
        serde_path_to_error::deserialize(&mut de).map_err(|e| path_error(e.path().to_string(), e.into_inner()))?;
    de.end().map_err(|e| path_error(".".into(), e))?;
    Ok(value)
}

fn path_error(path: String, e: serde_json::Error) -> ScenarioError {
    let (line, column) = (e.line(), e.column());
    let message = strip_position(&e.to_string());
    match e.classify() {
        serde_json::error::Category::Data => ScenarioError::Schema {
            at: if path == "." { "scenario".into() } else { path },
            message,
            position: Some((line, column)),
        },
        _ => ScenarioError::Syntax { line, column, at: (path != ".").then_some(path), message },
    }
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn prefixed_path(prefix: &str, path: &str) -> String {
    if path == "." { prefix.to_string() } else { format!("{prefix}.{path}") }
}
