//! How long a run will take: from this run's measured network-call rate while it runs, and from
//! the last finished run of the same kind (system, model, guidance) before it starts.

use super::run_state::RunState;

/// The measured cost of the last finished full run of each kind.
#[derive(Debug, Default, Clone)]
pub struct SpeedLog {
    /// Kind, and seconds per network call per member.
    last: Vec<(String, f64)>,
}

impl SpeedLog {
    /// Records a finished run of `kind`: `seconds` for `calls` network calls on `members`.
    pub fn record(&mut self, kind: &str, seconds: f64, calls: usize, members: usize) {
        let per = seconds / (calls.max(1) * members.max(1)) as f64;
        if !per.is_finite() || per <= 0.0 {
            return;
        }
        self.last.retain(|(k, _)| k != kind);
        self.last.push((kind.to_string(), per));
    }

    /// Seconds a run of `kind` with `calls` network calls on `members` should take, if a run of
    /// that kind has finished before (the cost of a call grows about linearly with the members).
    pub fn estimate(&self, kind: &str, calls: usize, members: usize) -> Option<f64> {
        self.last.iter().find(|(k, _)| k == kind).map(|(_, per)| per * (calls * members) as f64)
    }
}

/// Seconds left in the running job at its measured rate so far; `None` before its first frame.
pub fn remaining(run: &RunState) -> Option<f64> {
    let frame = run.live.as_ref().filter(|_| run.finished.is_none())?;
    if frame.evaluations == 0 || frame.elapsed <= 0.0 || run.evaluations < frame.evaluations {
        return None;
    }
    Some((run.evaluations - frame.evaluations) as f64 * frame.elapsed / frame.evaluations as f64)
}

/// "45 s", "2 min 5 s", "1 h 3 min".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_scales_the_last_run_of_the_same_kind() {
        let mut log = SpeedLog::default();
        assert_eq!(log.estimate("a", 100, 64), None);
        log.record("a", 10.0, 100, 64);
        let twice = log.estimate("a", 200, 64).unwrap();
        assert!((twice - 20.0).abs() < 1e-9);
        assert!((log.estimate("a", 100, 256).unwrap() - 40.0).abs() < 1e-9);
        assert_eq!(log.estimate("b", 100, 64), None, "another kind is not comparable");
        log.record("a", f64::NAN, 100, 64);
        assert!(log.estimate("a", 100, 64).is_some(), "a bad measure is ignored");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(44.6), "45 s");
        assert_eq!(duration(125.0), "2 min 5 s");
        assert_eq!(duration(3780.0), "1 h 3 min");
    }
}
