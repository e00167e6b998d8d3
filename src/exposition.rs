//! `/metrics` of the server's and the agent's admin endpoints: the exposition format chosen by the
//! request's `Accept` header, and the registry encoded in it.
//!
//! Two formats are served: OpenMetrics 1.0.0 (what prometheus-client encodes) when the client asks
//! for it, as Prometheus does, and otherwise the Prometheus text format 0.0.4, which is what
//! `curl`, `promtool check metrics` and older scrapers read. The 0.0.4 text is converted from the
//! OpenMetrics text: a counter family `x` (`# TYPE x counter`, samples `x_total`) becomes the
//! family `x_total`, so that its `# HELP` and `# TYPE` name its samples; `# UNIT` and `# EOF` are
//! dropped, and so are exemplars.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;

/// Content type of OpenMetrics text 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the Prometheus text exposition format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition format `/metrics` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics text 1.0.0.
    OpenMetrics,
    /// Prometheus text format 0.0.4 (the default).
    Text,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        }
    }

    /// The format for a request's `Accept` header values (RFC 9110 §12.5.1): of the two formats,
    /// the one with the higher quality, each taking the quality of the most specific media range
    /// that matches it; on a tie the one named first, and the text format when one range (`*/*`)
    /// names both. A range that matches
    /// neither (another type, an OpenMetrics or text version this server does not write, a
    /// malformed entry) is ignored; with no header, or nothing acceptable, the text format.
    pub fn negotiate<'a>(accept: impl IntoIterator<Item = &'a str>) -> Self {
        let mut best: [Option<Match>; 2] = [None, None];
        let mut order = 0usize;
        for value in accept {
            for range in value.split(',') {
                let Some(range) = MediaRange::parse(range) else {
                    continue;
                };
                for (slot, format) in [Format::OpenMetrics, Format::Text].into_iter().enumerate() {
                    if let Some(specificity) = range.matches(format) {
                        let m = Match {
                            specificity,
                            q: range.q,
                            order,
                        };
                        if best[slot].is_none_or(|b| m.specificity > b.specificity) {
                            best[slot] = Some(m);
                        }
                    }
                }
                order += 1;
            }
        }
        match best {
            [Some(om), text] if om.q > 0 => match text {
                Some(t) if t.q > om.q || (t.q == om.q && t.order <= om.order) => Format::Text,
                _ => Format::OpenMetrics,
            },
            _ => Format::Text,
        }
    }
}

/// How a media range matched a format.
#[derive(Debug, Clone, Copy)]
struct Match {
    /// 0 `*/*`, 1 `type/*`, 2 the full type, 3 the full type with its version.
    specificity: u8,
    /// Quality in thousandths (0..=1000).
    q: u16,
    /// Position of the range in the header.
    order: usize,
}

/// One media range of an Accept header, lower-cased.
#[derive(Debug)]
struct MediaRange {
    kind: String,
    subtype: String,
    version: Option<String>,
    /// Quality in thousandths.
    q: u16,
}

impl MediaRange {
    fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut range = MediaRange {
            kind: kind.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            version: None,
            q: 1000,
        };
        for param in parts {
            let param = param.trim();
            if param.is_empty() {
                continue;
            }
            let (name, value) = param.split_once('=')?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            match name.as_str() {
                "q" => range.q = parse_q(value)?,
                "version" => range.version = Some(value.to_owned()),
                // charset, escaping (every name here is a legacy Prometheus name) and extensions
                _ => {}
            }
        }
        Some(range)
    }

    /// How specifically this range names `format`, or `None` when it does not accept it.
    fn matches(&self, format: Format) -> Option<u8> {
        let (kind, subtype, version) = match format {
            Format::OpenMetrics => ("application", "openmetrics-text", "1.0.0"),
            Format::Text => ("text", "plain", "0.0.4"),
        };
        if self.kind == "*" {
            return Some(0);
        }
        if self.kind != kind {
            return None;
        }
        if self.subtype == "*" {
            return Some(1);
        }
        if self.subtype != subtype {
            return None;
        }
        match &self.version {
            None => Some(2),
            Some(v) if v == version => Some(3),
            Some(_) => None,
        }
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A quality value: `0`, `1`, `0.` or `1.` with up to three decimals (`1.000` at most).
fn parse_q(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The `/metrics` response to a request with `headers`: `encode` gives the body in the format
/// negotiated from its `Accept` header.
pub fn response(headers: &HeaderMap, encode: impl FnOnce(Format) -> String) -> Response {
    let format = Format::negotiate(
        headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    (
        [(header::CONTENT_TYPE, format.content_type())],
        encode(format),
    )
        .into_response()
}

/// `value` escaped for a label value (`\\`, `\"`, `\n`), as both formats want it.
/// prometheus-client 0.24 writes label values verbatim: every value that does not come from a
/// fixed list goes through this before it becomes a label.
pub fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `registry` in `format`; empty if it cannot be encoded.
pub fn encode(registry: &Registry, format: Format) -> String {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, registry).is_err() {
        return String::new();
    }
    match format {
        Format::OpenMetrics => out,
        Format::Text => openmetrics_to_text(&out),
    }
}

/// Converts OpenMetrics text (as prometheus-client writes it) to the Prometheus text format 0.0.4.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // The family's HELP line waits for its TYPE line, which tells whether the name changes.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take());
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" if !name.ends_with("_total") => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "stateset" => (name.to_owned(), "gauge"),
                "counter" | "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                _ => (name.to_owned(), "untyped"),
            };
            if let Some((help_name, text)) = help.take() {
                if help_name == rest.split(' ').next().unwrap_or_default() {
                    out.push_str(&format!("# HELP {name} {text}\n"));
                } else {
                    flush_help(&mut out, Some((help_name, text)));
                }
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        } else if line.starts_with('#') || line.trim().is_empty() {
            flush_help(&mut out, help.take());
        } else {
            flush_help(&mut out, help.take());
            out.push_str(without_exemplar(line));
            out.push('\n');
        }
    }
    flush_help(&mut out, help);
    out
}

fn flush_help(out: &mut String, help: Option<(&str, &str)>) {
    if let Some((name, text)) = help {
        out.push_str(&format!("# HELP {name} {text}\n"));
    }
}

/// A sample line without its exemplar (` # {labels} value [timestamp]`), which 0.0.4 lacks.
fn without_exemplar(line: &str) -> &str {
    // the end of the label set, if any: quotes and escapes inside label values are skipped
    let mut in_quotes = false;
    let mut escaped = false;
    let mut labels_end = 0;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes {
            match c {
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == '}' {
            labels_end = i;
            break;
        } else if c == ' ' {
            break;
        }
    }
    match line[labels_end..].find(" # ") {
        Some(i) => &line[..labels_end + i],
        None => line,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;

    const PROMETHEUS_2: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

    fn neg(accept: &[&str]) -> Format {
        Format::negotiate(accept.iter().copied())
    }

    #[test]
    fn prometheus_gets_openmetrics() {
        assert_eq!(neg(&[PROMETHEUS_2]), Format::OpenMetrics);
        assert_eq!(neg(&[PROMETHEUS_3]), Format::OpenMetrics);
        assert_eq!(neg(&["application/openmetrics-text"]), Format::OpenMetrics);
        assert_eq!(
            neg(&["Application/OpenMetrics-Text; Version=\"1.0.0\"; charset=utf-8"]),
            Format::OpenMetrics
        );
        assert_eq!(neg(&["application/*"]), Format::OpenMetrics);
    }

    #[test]
    fn everything_else_gets_the_text_format() {
        assert_eq!(neg(&[]), Format::Text);
        assert_eq!(neg(&["*/*"]), Format::Text);
        assert_eq!(neg(&["text/plain"]), Format::Text);
        assert_eq!(neg(&["text/plain;version=0.0.4"]), Format::Text);
        assert_eq!(neg(&["text/*, */*;q=0.1"]), Format::Text);
        assert_eq!(neg(&["application/json"]), Format::Text);
        assert_eq!(neg(&[""]), Format::Text);
        assert_eq!(neg(&["garbage;;;==,,"]), Format::Text);
    }

    #[test]
    fn quality_decides() {
        assert_eq!(
            neg(&["text/plain;q=0.9, application/openmetrics-text"]),
            Format::OpenMetrics
        );
        assert_eq!(
            neg(&["application/openmetrics-text;q=0.5, text/plain;q=0.6"]),
            Format::Text
        );
        // refused explicitly, even though */* would take it
        assert_eq!(
            neg(&["application/openmetrics-text;q=0, */*"]),
            Format::Text
        );
        assert_eq!(neg(&["text/plain;q=0, */*;q=0.5"]), Format::OpenMetrics);
        // a more specific range overrides a wildcard whatever their order
        assert_eq!(
            neg(&["*/*;q=1, application/openmetrics-text;q=0.1, text/plain;q=0.2"]),
            Format::Text
        );
    }

    #[test]
    fn ties_go_to_the_first_named_then_text() {
        assert_eq!(
            neg(&["application/openmetrics-text, text/plain"]),
            Format::OpenMetrics
        );
        assert_eq!(
            neg(&["text/plain, application/openmetrics-text"]),
            Format::Text
        );
        // two headers are one list
        assert_eq!(
            neg(&["text/plain;q=0.1", "application/openmetrics-text;q=0.2"]),
            Format::OpenMetrics
        );
    }

    #[test]
    fn versions_this_server_does_not_write_are_not_matched() {
        assert_eq!(
            neg(&["application/openmetrics-text;version=0.0.1"]),
            Format::Text
        );
        assert_eq!(
            neg(&["application/openmetrics-text;version=2.0.0, text/plain;q=0.1"]),
            Format::Text
        );
        // text/plain;version=1.0.0 is not 0.0.4: OpenMetrics wins at a lower quality
        assert_eq!(
            neg(&["text/plain;version=1.0.0, application/openmetrics-text;q=0.1"]),
            Format::OpenMetrics
        );
    }

    #[test]
    fn malformed_ranges_are_ignored() {
        for bad in [
            "application/openmetrics-text;q=2",
            "application/openmetrics-text;q=0.0001",
            "application/openmetrics-text;q=abc",
            "application/openmetrics-text;q=-1",
            "application/openmetrics-text;q",
            "*/openmetrics-text",
            "openmetrics",
            "application/open metrics",
        ] {
            assert_eq!(neg(&[bad]), Format::Text, "{bad}");
        }
        assert_eq!(
            neg(&["application/openmetrics-text;q=1.000"]),
            Format::OpenMetrics
        );
    }

    #[test]
    fn q_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.0"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.25"), Some(250));
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("0."), Some(0));
        assert_eq!(parse_q("1.001"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q(""), None);
        assert_eq!(parse_q(".5"), None);
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Reason {
        reason: String,
    }

    fn registry() -> Registry {
        let mut r = Registry::default();
        let c = Counter::<u64>::default();
        c.inc();
        r.register("demo_requests", "Requests handled", c);
        let f = Family::<Reason, Counter>::default();
        f.get_or_create(&Reason {
            reason: label_value("a \"#\" b } c # {x=\"1\"} 2"),
        })
        .inc();
        r.register("demo_refused", "Refusals by reason", f);
        r.register(
            "demo_empty",
            "A family without samples",
            Family::<Reason, Counter>::default(),
        );
        let g = Gauge::<i64>::default();
        g.set(7);
        r.register("demo_connected", "Connected", g);
        let h = Histogram::new([0.1, 1.0]);
        h.observe(0.5);
        r.register("demo_latency_seconds", "Latency", h);
        r
    }

    #[test]
    fn text_names_counter_families_by_their_samples() {
        let text = encode(&registry(), Format::Text);
        let want = "# HELP demo_requests_total Requests handled.\n\
                    # TYPE demo_requests_total counter\n\
                    demo_requests_total 1\n\
                    # HELP demo_refused_total Refusals by reason.\n\
                    # TYPE demo_refused_total counter\n\
                    demo_refused_total{reason=\"a \\\"#\\\" b } c # {x=\\\"1\\\"} 2\"} 1\n\
                    # HELP demo_connected Connected.\n\
                    # TYPE demo_connected gauge\n\
                    demo_connected 7\n\
                    # HELP demo_latency_seconds Latency.\n\
                    # TYPE demo_latency_seconds histogram\n\
                    demo_latency_seconds_sum 0.5\n\
                    demo_latency_seconds_count 1\n\
                    demo_latency_seconds_bucket{le=\"0.1\"} 0\n\
                    demo_latency_seconds_bucket{le=\"1.0\"} 1\n\
                    demo_latency_seconds_bucket{le=\"+Inf\"} 1\n";
        assert_eq!(text, want);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("plain-name"), "plain-name");
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn openmetrics_is_what_prometheus_client_writes() {
        let om = encode(&registry(), Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE demo_requests counter\ndemo_requests_total 1\n"));
    }

    #[test]
    fn exemplars_units_and_other_types_are_converted() {
        let om = "# HELP a_seconds A.\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\n\
                  a_seconds_total{x=\"}\"} 3 # {trace=\"t\"} 1.0 123\n\
                  # HELP b B.\n# TYPE b info\nb_info{v=\"1\"} 1\n\
                  # TYPE c unknown\nc 1\n\
                  # HELP d_total D.\n# TYPE d_total counter\nd_total 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP a_seconds_total A.\n# TYPE a_seconds_total counter\n\
             a_seconds_total{x=\"}\"} 3\n\
             # HELP b_info B.\n# TYPE b_info gauge\nb_info{v=\"1\"} 1\n\
             # TYPE c untyped\nc 1\n\
             # HELP d_total D.\n# TYPE d_total counter\nd_total 2\n"
        );
    }
}
