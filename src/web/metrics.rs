//! `GET /metrics` in the Prometheus text format: requests by route and
//! status, a latency histogram, and the product's own counters. Counters
//! for things the CLI does too (grants) are read from the database, so they
//! include what was done over SSH.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::services::mail::MailCounts;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// Request counts are kept in this many maps, one per thread in turn, so
/// that workers counting at once do not wait on one lock.
const SHARDS: usize = 8;

type RequestCounts = BTreeMap<(&'static str, u16), u64>;

/// This thread's shard of the request counts.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

#[derive(Default)]
pub struct Metrics {
    requests: [Mutex<RequestCounts>; SHARDS],
    latency: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
    pub codes_verified: AtomicU64,
    pub codes_failed: AtomicU64,
    pub referrals_linked: AtomicU64,
    /// Paddle webhooks by event type and outcome.
    webhooks: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Failed Paddle API calls, counted by the outbox worker.
    pub paddle_api_failures: Arc<AtomicU64>,
    /// CSP violations browsers reported, by directive.
    csp_violations: Mutex<BTreeMap<&'static str, u64>>,
    /// Violations counted but not logged (past the log's budget).
    csp_lines_suppressed: AtomicU64,
}

/// Totals read from the database when the metrics are scraped.
pub struct Totals {
    pub users: i64,
    pub paid_users: i64,
    pub referrals: i64,
    pub credit_grants: i64,
    /// From the mail worker: a code counts as sent once it was delivered.
    pub mail: MailCounts,
    /// Analyses running or waiting on the LLM pool now.
    pub llm_outstanding: usize,
    /// Free accounts with a running credit: paid access, apart from `paid_users`.
    pub credited_users: i64,
    /// Paddle calls still owed, and those Paddle refused (an operator looks).
    pub outbox_pending: i64,
    pub outbox_failed: i64,
    /// Referral rewards by state (`app_referral_rewards{state}`).
    pub reward_states: Vec<(String, i64)>,
    /// Referrals a refund or chargeback reversed.
    pub referrals_reversed: i64,
}

/// Every reward state, so each series shows even at zero.
pub const REWARD_STATES: [&str; 7] = [
    "banked", "applying", "waiting", "running", "ended", "failed", "revoked",
];

impl Metrics {
    pub fn observe(&self, route: &'static str, status: u16, took: Duration) {
        *locked(&self.requests[shard()])
            .entry((route, status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.latency[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    pub fn webhook(&self, event_type: &'static str, outcome: &'static str) {
        *locked(&self.webhooks)
            .entry((event_type, outcome))
            .or_default() += 1;
    }

    pub fn csp_violation(&self, directive: &'static str) {
        *locked(&self.csp_violations).entry(directive).or_default() += 1;
    }

    pub fn csp_line_suppressed(&self) {
        self.csp_lines_suppressed.fetch_add(1, Relaxed);
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn render(&self, totals: &Totals) -> String {
        let mut out = String::new();
        let mut requests = RequestCounts::new();
        for shard in &self.requests {
            for (key, n) in locked(shard).iter() {
                *requests.entry(*key).or_default() += n;
            }
        }
        header(
            &mut out,
            "app_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
        );
        for ((route, status), n) in &requests {
            let _ = writeln!(
                out,
                "app_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let payment_required: u64 = requests
            .iter()
            .filter(|((_, s), _)| *s == 402)
            .map(|(_, n)| n)
            .sum();

        header(
            &mut out,
            "app_http_request_duration_seconds",
            "histogram",
            "Time from request to answer.",
        );
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.latency) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(
                out,
                "app_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = self.latency_count.load(Relaxed);
        let _ = writeln!(
            out,
            "app_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(
            out,
            "app_http_request_duration_seconds_sum {}",
            self.latency_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "app_http_request_duration_seconds_count {total}");

        let load = |c: &AtomicU64| c.load(Relaxed) as i64;
        let mail = &totals.mail;
        let series: [(&str, &str, &str, i64); 15] = [
            (
                "app_sign_in_codes_sent_total",
                "counter",
                "Sign-in codes the mail server accepted (or, without one, logged).",
                mail.codes_sent as i64,
            ),
            (
                "app_sign_in_codes_undelivered_total",
                "counter",
                "Sign-in codes given up on after every attempt to send them failed.",
                mail.codes_undelivered as i64,
            ),
            (
                "app_sign_in_codes_verified_total",
                "counter",
                "Sign-ins completed with a right code.",
                load(&self.codes_verified),
            ),
            (
                "app_sign_in_codes_failed_total",
                "counter",
                "Wrong codes entered.",
                load(&self.codes_failed),
            ),
            (
                "app_payment_required_total",
                "counter",
                "Answers of 402 from the paid gate.",
                payment_required as i64,
            ),
            (
                "app_referrals_linked_total",
                "counter",
                "New accounts linked to a referrer since start.",
                load(&self.referrals_linked),
            ),
            (
                "app_mail_sent_total",
                "counter",
                "Messages the mail server accepted (or, without one, logged) since start.",
                mail.sent as i64,
            ),
            (
                "app_mail_undelivered_total",
                "counter",
                "Messages given up on after every attempt failed, since start.",
                mail.undelivered as i64,
            ),
            (
                "app_mail_failures_total",
                "counter",
                "Failed attempts to send mail since start.",
                mail.failed_attempts as i64,
            ),
            (
                "app_llm_analyses_outstanding",
                "gauge",
                "Analyses running or queued on the LLM pool.",
                totals.llm_outstanding as i64,
            ),
            ("app_users", "gauge", "Accounts.", totals.users),
            (
                "app_paid_users",
                "gauge",
                "Accounts on the paid tier.",
                totals.paid_users,
            ),
            (
                "app_credited_users",
                "gauge",
                "Free accounts with a complimentary credit running now.",
                totals.credited_users,
            ),
            (
                "app_referrals",
                "gauge",
                "Referrals recorded.",
                totals.referrals,
            ),
            (
                "app_credit_grants",
                "gauge",
                "Credit grants in the audit log, from the CLI included.",
                totals.credit_grants,
            ),
        ];
        write_series(&mut out, &series);
        self.render_billing(&mut out, totals);
        self.render_csp(&mut out);
        out
    }

    fn render_csp(&self, out: &mut String) {
        header(
            out,
            "app_csp_violations_total",
            "counter",
            "Content-Security-Policy violations browsers reported, by directive.",
        );
        for (directive, n) in locked(&self.csp_violations).iter() {
            let _ = writeln!(
                out,
                "app_csp_violations_total{{directive=\"{directive}\"}} {n}"
            );
        }
        write_series(
            out,
            &[(
                "app_csp_violations_unlogged_total",
                "counter",
                "Reported violations past the log's few lines a minute: counted, not logged.",
                self.csp_lines_suppressed.load(Relaxed) as i64,
            )],
        );
    }

    fn render_billing(&self, out: &mut String, totals: &Totals) {
        header(
            out,
            "app_paddle_webhooks_total",
            "counter",
            "Paddle webhooks, by event type and outcome.",
        );
        let webhooks = locked(&self.webhooks).clone();
        for ((event_type, outcome), n) in &webhooks {
            let _ = writeln!(
                out,
                "app_paddle_webhooks_total{{type=\"{event_type}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let series: [(&str, &str, &str, i64); 3] = [
            (
                "app_paddle_api_failures_total",
                "counter",
                "Failed Paddle API calls since start (retried or refused).",
                self.paddle_api_failures.load(Relaxed) as i64,
            ),
            (
                "app_paddle_outbox_pending",
                "gauge",
                "Paddle API calls still owed.",
                totals.outbox_pending,
            ),
            (
                "app_paddle_outbox_failed",
                "gauge",
                "Paddle API calls Paddle refused; an operator should look.",
                totals.outbox_failed,
            ),
        ];
        write_series(out, &series);
        header(
            out,
            "app_referral_rewards",
            "gauge",
            "Referral rewards by state (failed: app billing-retry re-queues them).",
        );
        for state in REWARD_STATES {
            let n = totals
                .reward_states
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "app_referral_rewards{{state=\"{state}\"}} {n}");
        }
        write_series(
            out,
            &[(
                "app_referrals_reversed",
                "gauge",
                "Referrals reversed by a refund or chargeback of the converting payment.",
                totals.referrals_reversed,
            )],
        );
    }
}

/// The map, even if a thread panicked holding it (counts stay usable).
fn locked<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

/// A series' `# HELP` and `# TYPE` lines.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Unlabelled series: `(name, kind, help, value)`, each with its header.
fn write_series(out: &mut String, series: &[(&str, &str, &str, i64)]) {
    for (name, kind, help, value) in series {
        header(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.observe("GET /login", 200, Duration::from_micros(300));
        m.observe("GET /login", 200, Duration::from_millis(3));
        m.observe("POST /api/analyze", 402, Duration::from_millis(2));
        m.webhook("subscription.created", "ok");
        m.csp_violation("frame-src");
        m.csp_violation("frame-src");
        let text = m.render(&Totals {
            users: 3,
            paid_users: 1,
            referrals: 2,
            credit_grants: 4,
            mail: MailCounts {
                codes_sent: 1,
                codes_undelivered: 2,
                ..MailCounts::default()
            },
            llm_outstanding: 3,
            credited_users: 2,
            outbox_pending: 2,
            outbox_failed: 1,
            reward_states: vec![("failed".into(), 3)],
            referrals_reversed: 4,
        });
        assert!(text.contains("app_referral_rewards{state=\"failed\"} 3"));
        assert!(text.contains("app_referral_rewards{state=\"waiting\"} 0"));
        assert!(text.contains("app_referrals_reversed 4"));
        assert!(text.contains("app_http_requests_total{route=\"GET /login\",status=\"200\"} 2"));
        assert!(text.contains("app_http_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("app_http_request_duration_seconds_bucket{le=\"0.005\"} 3"));
        assert!(text.contains("app_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("app_payment_required_total 1"));
        assert!(text.contains("app_sign_in_codes_sent_total 1"));
        assert!(text.contains("app_sign_in_codes_undelivered_total 2"));
        assert!(text.contains("app_credit_grants 4"));
        assert!(text.contains("app_llm_analyses_outstanding 3"));
        assert!(text.contains("# TYPE app_credited_users gauge\napp_credited_users 2"));
        assert!(text
            .contains("app_paddle_webhooks_total{type=\"subscription.created\",outcome=\"ok\"} 1"));
        assert!(text.contains("app_paddle_outbox_pending 2"));
        assert!(text.contains("app_paddle_outbox_failed 1"));
        assert!(text.contains("app_csp_violations_total{directive=\"frame-src\"} 2"));
    }

    #[test]
    fn counts_from_many_threads_add_up_in_one_line() {
        let m = Metrics::default();
        std::thread::scope(|scope| {
            for _ in 0..SHARDS + 3 {
                scope.spawn(|| {
                    for _ in 0..10 {
                        m.observe("GET /settings", 200, Duration::from_micros(700));
                    }
                });
            }
        });
        let text = m.render(&Totals {
            users: 0,
            paid_users: 0,
            referrals: 0,
            credit_grants: 0,
            mail: MailCounts::default(),
            llm_outstanding: 0,
            credited_users: 0,
            outbox_pending: 0,
            outbox_failed: 0,
            reward_states: Vec::new(),
            referrals_reversed: 0,
        });
        let total = (SHARDS + 3) * 10;
        assert_eq!(
            text.matches("app_http_requests_total{route=\"GET /settings\"")
                .count(),
            1,
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "app_http_requests_total{{route=\"GET /settings\",status=\"200\"}} {total}"
            )),
            "{text}"
        );
    }
}
