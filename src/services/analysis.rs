//! Running an analysis: the configured analyst (an LLM when one is set up),
//! falling back to the built-in one, which never fails.

use serde::Serialize;

use crate::log;
use crate::services::analyst::{self, Analyst, Builtin, Metrics};
use crate::services::portfolio::Holding;

#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub commentary: String,
    pub provider: &'static str,
    pub metrics: Metrics,
    /// Said when the LLM failed and the built-in analyst answered instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `holdings` in one currency and their `metrics` (`portfolio::weighed` or
/// `portfolio::figures` make both).
pub fn analyse(llm: Option<&dyn Analyst>, holdings: &[Holding], metrics: Metrics) -> Analysis {
    let mut note = None;
    if let Some(llm) = llm {
        match llm.analyse(holdings, &metrics) {
            Ok(commentary) => {
                log::event(
                    "analysis.done",
                    &[("provider", &llm.name()), ("holdings", &holdings.len())],
                );
                return Analysis {
                    commentary,
                    provider: llm.name(),
                    metrics,
                    note,
                };
            }
            Err(why) => {
                log::event("analysis.llm_failed", &[("error", &why)]);
                note = Some(
                    "The AI analyst could not answer just now, so this is the built-in commentary."
                        .into(),
                );
            }
        }
    }
    log::event(
        "analysis.done",
        &[("provider", &Builtin.name()), ("holdings", &holdings.len())],
    );
    Analysis {
        commentary: analyst::commentary(holdings, &metrics),
        provider: Builtin.name(),
        metrics,
        note,
    }
}
