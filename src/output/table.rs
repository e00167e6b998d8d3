//! Plain, kubectl-like tables and key/value blocks.

use tabled::builder::Builder;
use tabled::settings::Style as TableStyle;
use tabled::settings::object::Rows;
use tabled::settings::{Alignment, Modify, Padding};

/// A borderless table with a header row; every line ends with a newline.
pub fn table<H, R, C>(headers: H, rows: R) -> String
where
    H: IntoIterator,
    H::Item: Into<String>,
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: Into<String>,
{
    let mut builder = Builder::default();
    builder.push_record(headers.into_iter().map(Into::into));
    for row in rows {
        builder.push_record(row.into_iter().map(Into::into));
    }
    let mut table = builder.build();
    table
        .with(TableStyle::blank())
        .with(Padding::new(0, 2, 0, 0))
        .with(Modify::new(Rows::new(..)).with(Alignment::left()));
    let mut out: String = table
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out
}

/// Aligned `Key:  value` lines.
pub fn key_values<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let pairs: Vec<(&str, String)> = pairs.into_iter().collect();
    let width = pairs.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        out.push_str(&format!("{label:<width$}  {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_without_borders() {
        let t = table(["NAME", "STATE"], [["a", "connected"], ["long-name", "x"]]);
        assert_eq!(
            t,
            "NAME        STATE\na           connected\nlong-name   x\n"
        );
    }

    #[test]
    fn key_values_align_on_the_longest_key() {
        let kv = key_values([("A", "1".to_string()), ("Long key", "2".to_string())]);
        assert_eq!(kv, "A:         1\nLong key:  2\n");
    }
}
