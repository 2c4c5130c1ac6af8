//! The consumer side of a record: rules and labels applied, output lines made, metrics
//! counted.
//!
//! For every record: the `tls`/`quic`/`dtls` event, with `rules[]` (the rules that matched)
//! and `tls.labels[]` (FoxIO mapping enrichment), then one `event_type: "alert"` event per
//! matching rule, in Suricata EVE's alert shape.
//!
//! Rendering (rules + JSON) is a pure function of the record and the rule set, so it runs
//! on the workers ([`Enricher::renderer`], handed to the pipeline): the thread that reads
//! frames only writes the finished lines. The rule set sits behind one shared pointer that
//! a reload swaps whole, so a record always sees one consistent set. The new-fingerprint
//! learner keeps state and stays on the consumer's thread.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::metrics::Metrics;
use crate::output;
use crate::pipeline::Render;
use crate::record::Handshake;
use crate::rules::learn::Learner;
use crate::rules::{RuleError, RuleSet, Summary};

type Shared = Arc<RwLock<Arc<RuleSet>>>;

/// Applies rules to records and makes their output lines.
pub struct Enricher {
    rules: Shared,
    paths: Vec<PathBuf>,
    learner: Option<Learner>,
    metrics: Option<Arc<Metrics>>,
}

/// The lines of a record under a rule set (counting rule matches in the metrics).
fn render(set: &RuleSet, metrics: Option<&Metrics>, h: &Handshake) -> Vec<String> {
    let matches = set.matches(h);
    let labels = set.labels(h);
    if let Some(m) = metrics {
        for r in &matches {
            m.rule_matches.with_label_values(&[&r.id]).inc();
        }
    }
    let mut out = Vec::with_capacity(1 + matches.len());
    out.push(output::to_json_enriched(h, &matches, &labels));
    for r in &matches {
        out.push(output::alert_json(h, r));
    }
    out
}

impl Enricher {
    /// No rules: events only.
    pub fn plain(metrics: Option<Arc<Metrics>>) -> Self {
        Enricher {
            rules: Arc::new(RwLock::new(Arc::new(RuleSet::empty()))),
            paths: Vec::new(),
            learner: None,
            metrics,
        }
    }

    /// Loads the rule files (and the learner's state, when the set enables learning).
    pub fn load(paths: &[PathBuf], metrics: Option<Arc<Metrics>>) -> Result<Self, Vec<RuleError>> {
        let set = RuleSet::load(paths)?;
        let learner = match set.learner() {
            Some(Ok(l)) => Some(l),
            Some(Err(e)) => {
                return Err(vec![RuleError {
                    file: PathBuf::from("(learner state)"),
                    line: None,
                    rule: None,
                    message: e.to_string(),
                }]);
            }
            None => None,
        };
        let e =
            Enricher { rules: Arc::new(RwLock::new(Arc::new(set))), paths: paths.to_vec(), learner, metrics };
        e.register();
        Ok(e)
    }

    fn current(&self) -> Arc<RuleSet> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn register(&self) {
        if let Some(m) = &self.metrics {
            for id in self.current().rule_ids() {
                m.rule_matches.with_label_values(&[id]);
            }
        }
    }

    /// A line maker for the workers: the same lines [`Enricher::lines`] makes, under the
    /// rule set in force when each record is rendered.
    pub fn renderer(&self) -> Render {
        let shared = self.rules.clone();
        let metrics = self.metrics.clone();
        Arc::new(move |h: &Handshake| {
            let set = shared.read().unwrap_or_else(|p| p.into_inner()).clone();
            render(&set, metrics.as_deref(), h)
        })
    }

    /// A summary of the rules in force.
    pub fn summary(&self) -> Summary {
        self.current().summary().clone()
    }

    /// Loads the rule files again; only a set that loads without error replaces the
    /// current one (the learner keeps what it learned). The error list says why not.
    pub fn reload(&mut self) -> Result<Summary, Vec<RuleError>> {
        match RuleSet::load(&self.paths) {
            Ok(set) => {
                match (set.learn_config(), self.learner.as_mut()) {
                    (Some(cfg), Some(l)) => l.reconfigure(cfg.clone()),
                    (Some(_), None) => self.learner = set.learner().and_then(Result::ok),
                    (None, _) => self.learner = None,
                }
                let summary = set.summary().clone();
                *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                self.register();
                if let Some(m) = &self.metrics {
                    m.rule_reloads.with_label_values(&["ok"]).inc();
                }
                Ok(summary)
            }
            Err(errors) => {
                if let Some(m) = &self.metrics {
                    m.rule_reloads.with_label_values(&["failed"]).inc();
                }
                Err(errors)
            }
        }
    }

    /// Saves the learner's state, if learning is on (at exit and periodically).
    pub fn save_state(&self) -> std::io::Result<()> {
        let set = self.current();
        match (&self.learner, set.learn_config().and_then(|c| c.state.as_ref())) {
            (Some(l), Some(path)) => l.save(path),
            _ => Ok(()),
        }
    }

    /// The output lines of a record: its event, then an alert per matching rule (taken
    /// as rendered by a worker when it was, made here otherwise), then the learner's alert
    /// for a new fingerprint. Also counts the record (when metrics are on). The lines are
    /// left in the record's `rendered` (so they are freed with it, by the worker that made
    /// them).
    pub fn lines<'h>(&mut self, h: &'h mut Handshake) -> &'h [String] {
        if h.rendered.is_empty() {
            h.rendered = render(&self.current(), self.metrics.as_deref(), h);
        }
        if let Some(m) = &self.metrics {
            m.observe(h);
        }
        if let Some(l) = self.learner.as_mut() {
            if let Some(m) = l.observe(h) {
                if let Some(metrics) = &self.metrics {
                    metrics.rule_matches.with_label_values(&[&m.id]).inc();
                }
                let alert = output::alert_json(h, &m);
                h.rendered.push(alert);
            }
        }
        &h.rendered
    }
}
