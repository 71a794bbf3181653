//! The benchmark's report: medians per server, the ratios the performance targets (issue 9)
//! are stated in, as a Markdown table and an SVG bar chart.
//!
//! Input: the JSON lines `bench/run.sh` collects, each a [`Report`] whose tags say `server`
//! (an id such as `folio-fsync`), `label` (its display name) and `measure` (`large`, `huge`,
//! `small` or `medium`). The disk reference (`dd`) is a line of the same shape with only
//! `mb_per_s` set.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::Report;

/// Server ids the targets refer to (the ids `bench/run.sh` tags its runs with).
pub mod ids {
    pub const FOLIO: &str = "folio-fsync";
    pub const FOLIO_NO_FSYNC: &str = "folio-nofsync";
    pub const FOLIO_PG_S3: &str = "folio-pg-s3";
    pub const NGINX_SINK: &str = "nginx-sink";
    pub const NGINX_DAV: &str = "nginx-dav";
    pub const NODE: &str = "node-multer";
    pub const DD: &str = "dd";
}

/// Medians of one server's runs (`None`: not measured).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSummary {
    pub id: String,
    pub label: String,
    pub large_mb_s: Option<f64>,
    /// The highest peak RSS of the large runs, MiB.
    pub large_rss_mib: Option<f64>,
    pub huge_mb_s: Option<f64>,
    pub huge_rss_mib: Option<f64>,
    pub small_req_s: Option<f64>,
    pub small_p99_ms: Option<f64>,
    pub small_cpu_ms: Option<f64>,
    pub medium_req_s: Option<f64>,
    pub medium_mb_s: Option<f64>,
    /// Runs per measure (large, small, medium).
    pub reps: (usize, usize, usize),
    /// Requests without a 2xx answer, over every run.
    pub failed: u64,
}

/// File size and concurrency of each measure, as the runs report them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub large: Option<(u64, u64)>,
    pub huge: Option<(u64, u64)>,
    pub small: Option<(u64, u64)>,
    pub medium: Option<(u64, u64)>,
}

/// The plan of the runs (the first load-generator run of each measure; `dd` lines aside).
pub fn plan(runs: &[Report]) -> Plan {
    let of = |m: &str| {
        runs.iter()
            .find(|r| {
                r.tags.get("measure").map(String::as_str) == Some(m)
                    && r.tags.get("server").map(String::as_str) != Some(ids::DD)
            })
            .map(|r| (r.size_bytes, r.concurrency))
    };
    Plan {
        large: of("large"),
        huge: of("huge"),
        small: of("small"),
        medium: of("medium"),
    }
}

/// `16 KiB`, `2 MiB`, `1 GiB`, or bytes.
pub fn human_size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

fn shape(measure: Option<(u64, u64)>, fallback: &str) -> String {
    match measure {
        Some((size, 1)) => format!("one {} upload at a time", human_size(size)),
        Some((size, c)) => format!("{} uploads, {c} at once", human_size(size)),
        None => fallback.to_owned(),
    }
}

/// Reads JSON lines (blank lines skipped).
pub fn parse_lines(text: &str) -> anyhow::Result<Vec<Report>> {
    use anyhow::Context as _;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("line {}", i + 1)))
        .collect()
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// One summary per server, in the order the servers first appear.
pub fn summarize(runs: &[Report]) -> Vec<ServerSummary> {
    let mut order: Vec<String> = Vec::new();
    let mut by_server: BTreeMap<String, Vec<&Report>> = BTreeMap::new();
    for r in runs {
        let Some(id) = r.tags.get("server") else {
            continue;
        };
        if !order.contains(id) {
            order.push(id.clone());
        }
        by_server.entry(id.clone()).or_default().push(r);
    }
    order
        .into_iter()
        .map(|id| {
            let rs = by_server.remove(&id).unwrap_or_default();
            let of = |m: &str| -> Vec<&Report> {
                rs.iter()
                    .copied()
                    .filter(|r| r.tags.get("measure").map(String::as_str) == Some(m))
                    .collect()
            };
            let (large, huge, small, medium) = (of("large"), of("huge"), of("small"), of("medium"));
            let med = |set: &[&Report], f: &dyn Fn(&Report) -> Option<f64>| {
                median(set.iter().filter_map(|r| f(r)).collect())
            };
            let peak = |set: &[&Report]| {
                set.iter()
                    .filter_map(|r| r.server_peak_rss_kib)
                    .max()
                    .map(|k| k as f64 / 1024.0)
            };
            let label = rs
                .iter()
                .find_map(|r| r.tags.get("label").cloned())
                .unwrap_or_else(|| id.clone());
            ServerSummary {
                label,
                large_mb_s: med(&large, &|r| Some(r.mb_per_s)),
                large_rss_mib: peak(&large),
                huge_mb_s: med(&huge, &|r| Some(r.mb_per_s)),
                huge_rss_mib: peak(&huge),
                small_req_s: med(&small, &|r| Some(r.req_per_s)),
                small_p99_ms: med(&small, &|r| Some(r.lat_ms.p99)),
                small_cpu_ms: med(&small, &|r| r.server_cpu_ms_per_upload),
                medium_req_s: med(&medium, &|r| Some(r.req_per_s)),
                medium_mb_s: med(&medium, &|r| Some(r.mb_per_s)),
                reps: (large.len(), small.len(), medium.len()),
                failed: rs.iter().map(|r| r.non_2xx + r.errors).sum(),
                id,
            }
        })
        .collect()
}

/// Which way a target points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

/// One performance target and how this run measured against it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetResult {
    pub what: &'static str,
    /// A few words for the chart.
    pub short: &'static str,
    /// A ratio (shown as `×`) or an absolute value with this unit.
    pub unit: &'static str,
    pub goal: Goal,
    pub measured: Option<f64>,
}

impl TargetResult {
    pub fn met(&self) -> Option<bool> {
        let m = self.measured?;
        Some(match self.goal {
            Goal::AtLeast(g) => m >= g,
            Goal::AtMost(g) => m <= g,
        })
    }

    /// How far along the goal this is: 1.0 and above = met.
    pub fn score(&self) -> Option<f64> {
        let m = self.measured?;
        match self.goal {
            Goal::AtLeast(g) => Some(m / g),
            Goal::AtMost(g) if m > 0.0 => Some(g / m),
            Goal::AtMost(_) => None,
        }
    }
}

/// The targets of issue 9, measured: Folio (fsync on unless said) against the peers.
pub fn targets(servers: &[ServerSummary]) -> Vec<TargetResult> {
    let get = |id: &str, f: fn(&ServerSummary) -> Option<f64>| {
        servers.iter().find(|s| s.id == id).and_then(f)
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    use ids::*;
    vec![
        TargetResult {
            what: "small req/s: Folio ÷ Node multer",
            short: "small req/s ÷ Node",
            unit: "×",
            goal: Goal::AtLeast(4.0),
            measured: ratio(get(FOLIO, |s| s.small_req_s), get(NODE, |s| s.small_req_s)),
        },
        TargetResult {
            what: "server CPU per small upload: Folio",
            short: "CPU ms per small upload",
            unit: "ms",
            goal: Goal::AtMost(0.3),
            measured: get(FOLIO, |s| s.small_cpu_ms),
        },
        TargetResult {
            what: "small p99 latency: Folio ÷ nginx sink",
            short: "small p99 ÷ nginx sink",
            unit: "×",
            goal: Goal::AtMost(3.0),
            measured: ratio(
                get(FOLIO, |s| s.small_p99_ms),
                get(NGINX_SINK, |s| s.small_p99_ms),
            ),
        },
        TargetResult {
            what: "large MB/s: Folio fsync on ÷ dd conv=fdatasync",
            short: "large, fsync on ÷ dd",
            unit: "×",
            goal: Goal::AtLeast(0.85),
            measured: ratio(get(FOLIO, |s| s.large_mb_s), get(DD, |s| s.large_mb_s)),
        },
        TargetResult {
            what: "large MB/s: Folio fsync off ÷ nginx sink",
            short: "large, fsync off ÷ nginx sink",
            unit: "×",
            goal: Goal::AtLeast(0.8),
            measured: ratio(
                get(FOLIO_NO_FSYNC, |s| s.large_mb_s),
                get(NGINX_SINK, |s| s.large_mb_s),
            ),
        },
        TargetResult {
            what: "medium req/s: Folio ÷ nginx WebDAV",
            short: "medium req/s ÷ nginx WebDAV",
            unit: "×",
            goal: Goal::AtLeast(1.0),
            measured: ratio(
                get(FOLIO, |s| s.medium_req_s),
                get(NGINX_DAV, |s| s.medium_req_s),
            ),
        },
        TargetResult {
            what: "peak RSS during the huge upload: Folio",
            short: "peak RSS, huge upload",
            unit: "MiB",
            goal: Goal::AtMost(32.0),
            measured: get(FOLIO, |s| s.huge_rss_mib),
        },
        TargetResult {
            what: "small req/s: Folio on PostgreSQL + S3 ÷ Folio embedded",
            short: "small, PG + S3 ÷ embedded",
            unit: "×",
            goal: Goal::AtLeast(0.7),
            measured: ratio(
                get(FOLIO_PG_S3, |s| s.small_req_s),
                get(FOLIO, |s| s.small_req_s),
            ),
        },
    ]
}

fn num(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(x) => group(&format!("{x:.decimals$}")),
        None => "–".to_owned(),
    }
}

/// Thousands separated by a thin space (`14 260`), as the issue writes them.
fn group(text: &str) -> String {
    let (int, frac) = text
        .split_once('.')
        .map_or((text, None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

fn goal_text(t: &TargetResult) -> String {
    let (op, g) = match t.goal {
        Goal::AtLeast(g) => ("≥", g),
        Goal::AtMost(g) => ("≤", g),
    };
    if t.unit == "×" {
        format!("{op} {g}×")
    } else {
        format!("{op} {g} {}", t.unit)
    }
}

fn measured_text(t: &TargetResult) -> String {
    match t.measured {
        None => "not measured".to_owned(),
        Some(m) if t.unit == "×" => format!("{m:.2}×"),
        Some(m) => format!("{m:.2} {}", t.unit),
    }
}

/// The Markdown report: the table per server, then the targets.
pub fn markdown(servers: &[ServerSummary], targets: &[TargetResult], plan: &Plan) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "large: {}; small: {}; medium: {}.\n",
        shape(plan.large, "not run"),
        shape(plan.small, "not run"),
        shape(plan.medium, "not run")
    );
    md.push_str(
        "| server | large MB/s | large peak RSS MiB | small req/s | small p99 ms \
         | server CPU ms per small upload | medium req/s | medium MB/s | failed requests |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in servers {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.label.replace('|', "\\|"),
            num(s.large_mb_s, 0),
            num(s.large_rss_mib, 1),
            num(s.small_req_s, 0),
            num(s.small_p99_ms, 1),
            num(s.small_cpu_ms, 2),
            num(s.medium_req_s, 0),
            num(s.medium_mb_s, 0),
            s.failed,
        );
    }
    if let Some(f) = servers.iter().find(|s| s.id == ids::FOLIO) {
        if let (Some(mb), Some(rss), Some((size, _))) = (f.huge_mb_s, f.huge_rss_mib, plan.huge) {
            let _ = writeln!(
                md,
                "\nHuge: one {} upload to {}: {mb:.0} MB/s, peak RSS {rss:.1} MiB.",
                human_size(size),
                f.label
            );
        }
    }
    let reps: Vec<String> = servers
        .iter()
        .filter(|s| s.id != ids::DD)
        .map(|s| s.reps)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|(l, s, m)| format!("{l} large, {s} small, {m} medium"))
        .collect();
    if !reps.is_empty() {
        let _ = writeln!(md, "\nMedians of {} runs per server.", reps.join(" / "));
    }
    md.push_str("\n| target (issue 9) | measured | goal | met |\n|---|---:|---:|:---:|\n");
    for t in targets {
        let met = match t.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {met} |",
            t.what,
            measured_text(t),
            goal_text(t)
        );
    }
    md
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color(id: &str) -> &'static str {
    match id {
        ids::FOLIO => "#1f5fa8",
        ids::FOLIO_NO_FSYNC => "#6d9fd8",
        ids::FOLIO_PG_S3 => "#2b3f73",
        ids::NGINX_SINK => "#7a7a7a",
        ids::NGINX_DAV => "#a9a9a9",
        ids::NODE => "#3f8f4f",
        ids::DD => "#9a6b3a",
        _ => "#b05090",
    }
}

const WIDTH: f64 = 860.0;
const LABEL_W: f64 = 280.0;
const BAR_H: f64 = 18.0;
const GAP: f64 = 6.0;

/// A panel of horizontal bars; returns its height.
fn panel(svg: &mut String, y0: f64, title: &str, bars: &[(String, &str, f64, String)]) -> f64 {
    let _ = writeln!(
        svg,
        r#"<text x="10" y="{:.1}" class="t">{}</text>"#,
        y0 + 16.0,
        xml(title)
    );
    let max = bars.iter().map(|b| b.2).fold(0.0_f64, f64::max);
    let span = WIDTH - LABEL_W - 110.0;
    let mut y = y0 + 26.0;
    for (label, fill, value, text) in bars {
        let w = if max > 0.0 { value / max * span } else { 0.0 };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="l">{}</text><rect x="{LABEL_W}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{fill}"/><text x="{:.1}" y="{:.1}" class="v">{}</text>"#,
            LABEL_W - 8.0,
            y + 13.0,
            xml(label),
            LABEL_W + w + 6.0,
            y + 13.0,
            xml(text)
        );
        y += BAR_H + GAP;
    }
    y - y0 + 10.0
}

/// The chart: one panel per measure (bars per server), and one of the targets (measured ÷
/// goal, the line at 1 = goal met).
pub fn svg(
    servers: &[ServerSummary],
    targets: &[TargetResult],
    plan: &Plan,
    title: &str,
) -> String {
    let mut body = String::new();
    let mut y = 36.0;
    type Metric = fn(&ServerSummary) -> Option<f64>;
    let panels: [(String, Metric, usize, &str); 3] = [
        (
            format!("large: {}, MB/s (higher is better)", shape(plan.large, "?")),
            |s| s.large_mb_s,
            0,
            " MB/s",
        ),
        (
            format!(
                "small: {}, req/s (higher is better)",
                shape(plan.small, "?")
            ),
            |s| s.small_req_s,
            0,
            " req/s",
        ),
        (
            format!(
                "medium: {}, req/s (higher is better)",
                shape(plan.medium, "?")
            ),
            |s| s.medium_req_s,
            0,
            " req/s",
        ),
    ];
    for (title, metric, decimals, unit) in panels {
        let bars: Vec<(String, &str, f64, String)> = servers
            .iter()
            .filter_map(|s| {
                let v = metric(s)?;
                Some((
                    s.label.clone(),
                    color(&s.id),
                    v,
                    format!("{}{unit}", num(Some(v), decimals)),
                ))
            })
            .collect();
        if !bars.is_empty() {
            y += panel(&mut body, y, &title, &bars);
        }
    }
    // Targets: score = measured ÷ goal (inverted for "at most" goals), capped for drawing.
    let scored: Vec<(&TargetResult, f64)> = targets
        .iter()
        .filter_map(|t| Some((t, t.score()?)))
        .collect();
    if !scored.is_empty() {
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.1}" class="t">targets of issue 9: measured against goal (the line marks the goal; past it = met)</text>"#,
            y + 16.0
        );
        let top = scored.iter().map(|s| s.1).fold(1.25_f64, f64::max).min(4.0);
        let span = WIDTH - LABEL_W - 200.0;
        let goal_x = LABEL_W + span / top;
        // The goal line first, so that the bars and their labels are drawn over it.
        let _ = writeln!(
            body,
            r##"<line x1="{goal_x:.1}" y1="{:.1}" x2="{goal_x:.1}" y2="{:.1}" stroke="#222" stroke-dasharray="4 3"/>"##,
            y + 22.0,
            y + 26.0 + scored.len() as f64 * (BAR_H + GAP)
        );
        let mut yy = y + 26.0;
        for (t, score) in &scored {
            let w = score.min(top) / top * span;
            let fill = if *score >= 1.0 { "#3f8f4f" } else { "#d0792a" };
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" class="l">{}</text><rect x="{LABEL_W}" y="{yy:.1}" width="{w:.1}" height="{BAR_H}" fill="{fill}"/><text x="{:.1}" y="{:.1}" class="v">{} (goal {})</text>"#,
                LABEL_W - 8.0,
                yy + 13.0,
                xml(t.short),
                LABEL_W + w + 6.0,
                yy + 13.0,
                xml(&measured_text(t)),
                xml(&goal_text(t)),
            );
            yy += BAR_H + GAP;
        }
        y = yy + 10.0;
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h:.0}" viewBox="0 0 {WIDTH} {h:.0}" font-family="sans-serif" font-size="12">
<style>.t{{font-weight:bold;font-size:13px}}.l{{text-anchor:end}}.v{{fill:#222}}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" class="t" font-size="15">{}</text>
{body}</svg>
"##,
        xml(title),
        h = y + 10.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: u64 = 16 << 10;

    fn run(server: &str, measure: &str, f: impl FnOnce(&mut Report)) -> Report {
        let mut r = Report::default();
        (r.size_bytes, r.concurrency) = match measure {
            "small" => (SMALL, 16),
            "large" => (256 << 20, 1),
            "huge" => (1 << 30, 1),
            _ => (0, 0),
        };
        r.tags.insert("server".into(), server.into());
        r.tags.insert("label".into(), format!("{server} label"));
        r.tags.insert("measure".into(), measure.into());
        f(&mut r);
        r
    }

    fn sample() -> Vec<Report> {
        let mut runs = Vec::new();
        for (rps, p99, cpu) in [
            (1000.0, 20.0, 0.5),
            (1400.0, 30.0, 0.4),
            (1200.0, 10.0, 0.2),
        ] {
            runs.push(run(ids::FOLIO, "small", |r| {
                r.req_per_s = rps;
                r.lat_ms.p99 = p99;
                r.server_cpu_ms_per_upload = Some(cpu);
            }));
        }
        for (mb, rss) in [(900.0, 20_000), (800.0, 30_000)] {
            runs.push(run(ids::FOLIO, "large", |r| {
                r.mb_per_s = mb;
                r.server_peak_rss_kib = Some(rss);
            }));
        }
        runs.push(run(ids::FOLIO, "huge", |r| {
            r.mb_per_s = 700.0;
            r.server_peak_rss_kib = Some(40 * 1024);
            r.non_2xx = 1;
        }));
        runs.push(run(ids::NODE, "small", |r| r.req_per_s = 300.0));
        runs.push(run(ids::NGINX_SINK, "small", |r| r.lat_ms.p99 = 5.0));
        runs.push(run(ids::DD, "large", |r| r.mb_per_s = 1000.0));
        runs.push(run(ids::FOLIO_PG_S3, "small", |r| r.req_per_s = 600.0));
        runs
    }

    #[test]
    fn medians_peaks_and_failures_per_server_in_first_seen_order() {
        let s = summarize(&sample());
        let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                ids::FOLIO,
                ids::NODE,
                ids::NGINX_SINK,
                ids::DD,
                ids::FOLIO_PG_S3
            ]
        );
        let f = &s[0];
        assert_eq!(f.small_req_s, Some(1200.0));
        assert_eq!(f.small_p99_ms, Some(20.0));
        assert_eq!(f.small_cpu_ms, Some(0.4));
        assert_eq!(f.large_mb_s, Some(850.0));
        assert_eq!(
            f.large_rss_mib.map(|m| (m * 1024.0).round()),
            Some(30_000.0)
        );
        assert_eq!(f.huge_rss_mib, Some(40.0));
        assert_eq!(f.reps, (2, 3, 0));
        assert_eq!(f.failed, 1);
        assert_eq!(f.label, "folio-fsync label");
        assert_eq!(f.medium_req_s, None);
    }

    #[test]
    fn targets_are_ratios_to_the_right_peers() {
        let t = targets(&summarize(&sample()));
        let by = |prefix: &str| {
            t.iter()
                .find(|t| t.what.starts_with(prefix))
                .expect("target")
        };
        let small = by("small req/s");
        assert_eq!(small.measured, Some(4.0));
        assert_eq!(small.met(), Some(true));
        let cpu = by("server CPU");
        assert_eq!((cpu.measured, cpu.met()), (Some(0.4), Some(false)));
        assert_eq!(by("small p99").measured, Some(4.0));
        assert_eq!(by("large MB/s: Folio fsync on").measured, Some(0.85));
        assert_eq!(by("large MB/s: Folio fsync on").met(), Some(true));
        assert_eq!(by("large MB/s: Folio fsync off").measured, None);
        assert_eq!(by("peak RSS").met(), Some(false));
        assert_eq!(by("medium").met(), None);
        let scale_out = by("small req/s: Folio on PostgreSQL");
        assert_eq!(
            (scale_out.measured, scale_out.met()),
            (Some(0.5), Some(false))
        );
    }

    #[test]
    fn markdown_and_svg_show_every_server_and_target() {
        let s = summarize(&sample());
        let t = targets(&s);
        // dd's line first: it still does not set the plan.
        let mut runs = sample();
        runs.rotate_right(1);
        let p = plan(&runs);
        assert_eq!(p.small, Some((SMALL, 16)));
        assert_eq!(p.large, Some((256 << 20, 1)), "dd's run is not the plan");
        let md = markdown(&s, &t, &p);
        assert!(md.starts_with("large: one 256 MiB upload at a time; small: 16 KiB uploads, 16 at once; medium: not run."), "{md}");
        for server in &s {
            assert!(md.contains(&server.label), "{md}");
        }
        assert!(md.contains("| 1\u{2009}200 |"), "{md}");
        assert!(md.contains("| 4.00× | ≥ 4× | yes |"), "{md}");
        assert!(md.contains("not measured"), "{md}");
        assert!(
            md.contains("Huge: one 1 GiB upload to folio-fsync label: 700 MB/s, peak RSS 40.0 MiB"),
            "{md}"
        );
        let chart = svg(&s, &t, &p, "a <test> run");
        assert!(chart.contains("small: 16 KiB uploads, 16 at once, req/s"));
        assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
        assert!(chart.contains("a &lt;test&gt; run"));
        // Bars: small (4 servers with a rate), large (2), targets (6 measured).
        assert_eq!(chart.matches("<rect").count(), 1 + 4 + 2 + 6, "{chart}");
    }

    #[test]
    fn lines_parse_with_missing_fields_and_bad_lines_are_named() {
        let runs = parse_lines(
            "{\"tags\":{\"server\":\"dd\",\"measure\":\"large\"},\"mb_per_s\":5.5}\n\n",
        )
        .expect("parses");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].mb_per_s, 5.5);
        let err = parse_lines("{}\nnot json\n").expect_err("fails");
        assert!(format!("{err:#}").contains("line 2"));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(16 << 10), "16 KiB");
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(1500), "1500 B");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group("14260"), "14\u{2009}260");
        assert_eq!(group("1234567.5"), "1\u{2009}234\u{2009}567.5");
        assert_eq!(group("-999"), "-999");
    }
}
