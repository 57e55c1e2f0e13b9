//! Progress of a pull on a terminal: one bar per object.
//!
//! Takes each object's [`Tally`] (rows received, rows announced, requests spent, counted by the
//! client as they happen) and draws, ten times a second, one line per object: the rows received
//! of the total Salesforce announced, the requests spent, the strategy (REST, parallel REST ×K,
//! Bulk) and the time since the pull started. Nothing is drawn when stderr is not a terminal or
//! with `--quiet` (the caller decides): the bars are then hidden and cost nothing.
//!
//! Log lines written while bars are drawn go through [`LogWriter`], which lifts the bars out of
//! the way first, so that a warning never lands in the middle of a bar.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::salesforce::Tally;

/// The bars being drawn, for [`LogWriter`].
static DRAWN: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn drawn() -> MutexGuard<'static, Option<MultiProgress>> {
    DRAWN.lock().unwrap_or_else(|p| p.into_inner())
}

/// stderr for log lines: while bars are drawn, they are cleared before the line and drawn again after.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let multi = drawn().clone();
        match multi {
            Some(m) => m.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One object's bar.
pub struct Bar {
    bar: ProgressBar,
    tally: Arc<Tally>,
    strategy: Mutex<String>,
}

impl Bar {
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// How the object is being pulled: `REST`, `parallel REST ×5`, `Bulk`.
    pub fn set_strategy(&self, strategy: impl Into<String>) {
        *self.strategy.lock().unwrap_or_else(|p| p.into_inner()) = strategy.into();
        self.draw();
    }

    fn draw(&self) {
        let announced = self.tally.announced();
        if announced > 0 {
            self.bar.set_length(announced);
        }
        self.bar.set_position(self.tally.rows());
        let strategy = self.strategy.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.bar.set_message(message(self.tally.requests(), &strategy));
    }

    pub fn finish(&self) {
        self.draw();
        self.bar.finish();
    }
}

/// The text after a bar: `12 requests · Bulk`.
pub fn message(requests: u64, strategy: &str) -> String {
    let unit = if requests == 1 { "request" } else { "requests" };
    if strategy.is_empty() { format!("{requests} {unit}") } else { format!("{requests} {unit} · {strategy}") }
}

/// The bars of one pull; they vanish when it is dropped.
pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Arc<Mutex<Vec<Arc<Bar>>>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Bars drawn on stderr when `shown`, else hidden ones. Call inside the tokio runtime.
    pub fn new(shown: bool) -> Progress {
        let multi = shown.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        let bars: Arc<Mutex<Vec<Arc<Bar>>>> = Arc::default();
        let ticker = multi.as_ref().map(|_| {
            let bars = bars.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    for bar in bars.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                        bar.draw();
                    }
                }
            })
        });
        if let Some(m) = &multi {
            *drawn() = Some(m.clone());
        }
        Progress { multi, bars, ticker }
    }

    /// A bar for `object`, counting into a fresh tally.
    pub fn bar(&self, object: &str) -> Arc<Bar> {
        let bar = match &self.multi {
            Some(m) => {
                let bar = m.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:<28} [{bar:30}] {human_pos:>9}/{human_len:<9} rows  {msg}  {elapsed}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(object.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        };
        let bar = Arc::new(Bar { bar, tally: Arc::new(Tally::new()), strategy: Mutex::new(String::new()) });
        self.bars.lock().unwrap_or_else(|p| p.into_inner()).push(bar.clone());
        bar
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        // Finished bars stay on the terminal as the pull's summary.
        if self.multi.take().is_some() {
            *drawn() = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_requests_and_strategy() {
        assert_eq!(message(1, "Bulk"), "1 request · Bulk");
        assert_eq!(message(12, "parallel REST ×5"), "12 requests · parallel REST ×5");
        assert_eq!(message(0, ""), "0 requests");
    }
}
