//! The consumer side of a record: rules and labels applied, output lines made, metrics
//! counted. One `Enricher` per output thread (replay's reader, the daemon's dispatcher);
//! the rule set is swapped whole on reload, so a record always sees one consistent set.
//!
//! For every record: the `tls`/`quic`/`dtls` event, with `rules[]` (the rules that matched)
//! and `tls.labels[]` (FoxIO mapping enrichment), then one `event_type: "alert"` event per
//! matching rule, in Suricata EVE's alert shape.

use std::path::PathBuf;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::output;
use crate::record::Handshake;
use crate::rules::learn::Learner;
use crate::rules::{RuleError, RuleSet, Summary};

/// Applies rules to records and makes their output lines.
pub struct Enricher {
    rules: Arc<RuleSet>,
    paths: Vec<PathBuf>,
    learner: Option<Learner>,
    metrics: Option<Arc<Metrics>>,
}

impl Enricher {
    /// No rules: events only.
    pub fn plain(metrics: Option<Arc<Metrics>>) -> Self {
        Enricher { rules: Arc::new(RuleSet::empty()), paths: Vec::new(), learner: None, metrics }
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
        let e = Enricher { rules: Arc::new(set), paths: paths.to_vec(), learner, metrics };
        e.register();
        Ok(e)
    }

    fn register(&self) {
        if let Some(m) = &self.metrics {
            for id in self.rules.rule_ids() {
                m.rule_matches.with_label_values(&[id]);
            }
        }
    }

    /// The rules in force.
    pub fn summary(&self) -> &Summary {
        self.rules.summary()
    }

    /// Loads the rule files again; only a set that loads without error replaces the
    /// current one (the learner keeps what it learned). The error list says why not.
    pub fn reload(&mut self) -> Result<&Summary, Vec<RuleError>> {
        match RuleSet::load(&self.paths) {
            Ok(set) => {
                match (set.learn_config(), self.learner.as_mut()) {
                    (Some(cfg), Some(l)) => l.reconfigure(cfg.clone()),
                    (Some(_), None) => self.learner = set.learner().and_then(Result::ok),
                    (None, _) => self.learner = None,
                }
                self.rules = Arc::new(set);
                self.register();
                if let Some(m) = &self.metrics {
                    m.rule_reloads.with_label_values(&["ok"]).inc();
                }
                Ok(self.rules.summary())
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
        match (&self.learner, self.rules.learn_config().and_then(|c| c.state.as_ref())) {
            (Some(l), Some(path)) => l.save(path),
            _ => Ok(()),
        }
    }

    /// The output lines of a record: its event, then an alert per matching rule. Also
    /// counts the record (when metrics are on).
    pub fn lines(&mut self, h: &Handshake) -> Vec<String> {
        let mut matches = self.rules.matches(h);
        if let Some(l) = self.learner.as_mut() {
            if let Some(m) = l.observe(h) {
                matches.push(m);
            }
        }
        let labels = self.rules.labels(h);
        if let Some(m) = &self.metrics {
            m.observe(h);
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
}
