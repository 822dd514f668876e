//! A brush stroke across a field: every position the pointer passed since the last frame, not
//! only where it is now, so that a fast stroke paints a connected line whatever the frame rate.

use eframe::egui::{Event, Pos2, Ui};

/// A stroke under way: where the pointer was when the last frame's points were taken.
#[derive(Debug, Default, Clone)]
pub struct BrushStroke {
    last: Option<Pos2>,
}

impl BrushStroke {
    /// Whether a stroke is under way.
    pub fn active(&self) -> bool {
        self.last.is_some()
    }

    /// Starts a stroke where the primary button went down (a drag is recognised only once the
    /// pointer has moved a few pixels: the stroke still begins at the press).
    pub fn begin(&mut self, ui: &Ui) {
        self.last = ui.input(|i| i.pointer.press_origin().or(i.pointer.interact_pos()));
    }

    /// The points the stroke passed since the last call, `spacing` apart along each straight
    /// piece between reported pointer positions (the first call includes where it began).
    /// Ends the stroke once the button is up.
    pub fn advance(&mut self, ui: &Ui, spacing: f32) -> Vec<Pos2> {
        let Some(start) = self.last else { return Vec::new() };
        let (mut moves, current, down) = ui.input(|i| {
            let moves: Vec<Pos2> = i
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::PointerMoved(p) => Some(*p),
                    Event::PointerButton { pos, .. } => Some(*pos),
                    _ => None,
                })
                .collect();
            (moves, i.pointer.interact_pos(), i.pointer.primary_down())
        });
        moves.extend(current);
        let mut points = vec![start];
        let mut at = start;
        for p in moves {
            points.extend(segment(at, p, spacing));
            at = p;
        }
        self.last = down.then_some(at);
        points
    }
}

/// Points from `a` (excluded) to `b` (included), at most `spacing` apart.
pub fn segment(a: Pos2, b: Pos2, spacing: f32) -> Vec<Pos2> {
    let length = a.distance(b);
    if !length.is_finite() || length == 0.0 {
        return Vec::new();
    }
    let steps = (length / spacing.max(0.25)).ceil().clamp(1.0, 100_000.0) as usize;
    (1..=steps).map(|k| a.lerp(b, k as f32 / steps as f32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::egui::pos2;

    #[test]
    fn a_segment_is_sampled_densely_and_ends_where_it_ends() {
        let points = segment(pos2(0.0, 0.0), pos2(10.0, 0.0), 1.0);
        assert_eq!(points.len(), 10);
        assert_eq!(points.last(), Some(&pos2(10.0, 0.0)));
        assert!(points.windows(2).all(|w| w[0].distance(w[1]) <= 1.0 + 1e-4));
        assert!(segment(pos2(3.0, 3.0), pos2(3.0, 3.0), 1.0).is_empty());
    }
}
