//! The one painter and the one duration formatter of every report.
//!
//! Colour goes through `anstyle` (clap already links it): a [`Painter`] is made once from the
//! decision `--color`, then `NO_COLOR`, then the tty (see `cli::color_on`), and every
//! renderer asks it for red, green, … so no renderer writes escape sequences by hand.
//! Durations — a timeout, a run's elapsed time, "expired 3 days ago" — all read through
//! [`duration`], in the same units the `--timeout` flag accepts for short spans.

use anstyle::{AnsiColor, Effects, Style};
use std::time::Duration;

pub const RED: Style = AnsiColor::Red.on_default();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const BOLD: Style = Style::new().effects(Effects::BOLD);
pub const DIM: Style = Style::new().effects(Effects::DIMMED);
pub const RED_BOLD: Style = AnsiColor::Red.on_default().effects(Effects::BOLD);

/// Paints text with a style when colour is on; returns it unchanged when off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Painter {
    pub color: bool,
}

impl Painter {
    pub fn new(color: bool) -> Painter {
        Painter { color }
    }

    pub fn paint(&self, style: Style, s: &str) -> String {
        if self.color && style != Style::new() {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_string()
        }
    }
    pub fn red(&self, s: &str) -> String {
        self.paint(RED, s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint(GREEN, s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint(YELLOW, s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.paint(CYAN, s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(BOLD, s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(DIM, s)
    }
}

/// A duration as a person reads it: `500ms`, `2s`, `1.5s` below two minutes (the units of
/// `--timeout`), then `12 min`, `5 h`, `3 days` (whole units, rounded down).
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms > 0 && ms < 1000 {
        format!("{ms}ms")
    } else if s < 120 {
        if ms.is_multiple_of(1000) {
            format!("{s}s")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        }
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 172_800 {
        format!("{} h", s / 3600)
    } else {
        format!("{} days", s / 86_400)
    }
}

/// [`duration`] of a signed number of seconds, by its magnitude (the caller says "ago" or
/// "in").
pub fn span(secs: i64) -> String {
    duration(Duration::from_secs(secs.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_flag_then_in_words() {
        assert_eq!(duration(Duration::from_secs(2)), "2s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        // A third of a 10 s budget, not "3333ms".
        assert_eq!(duration(Duration::from_secs(10) / 3), "3.3s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(119)), "119s");
        assert_eq!(duration(Duration::from_secs(600)), "10 min");
        assert_eq!(duration(Duration::from_secs(5 * 3600 + 59)), "5 h");
        assert_eq!(duration(Duration::from_secs(47 * 3600)), "47 h");
        assert_eq!(duration(Duration::from_secs(2 * 86_400)), "2 days");
        assert_eq!(span(-3 * 86_400 - 5), "3 days");
        assert_eq!(span(0), "0s");
    }

    #[test]
    fn painter_uses_sgr_only_when_on() {
        assert_eq!(Painter::new(false).red("x"), "x");
        assert_eq!(Painter::new(true).green("✔"), "\x1b[32m✔\x1b[0m");
        assert_eq!(Painter::new(true).bold("b"), "\x1b[1mb\x1b[0m");
        assert!(Painter::new(true).paint(RED_BOLD, "e").contains('e'));
    }
}
