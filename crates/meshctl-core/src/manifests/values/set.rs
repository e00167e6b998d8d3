//! `--set` / `--set-string` parsing with Helm's rules (Helm's `strvals` package):
//!
//! - `a=1,b=2`: comma-separated pairs; `a.b.c=x` nests maps;
//! - `a[0]=x`, `a[0].b=x`, `a[0][1]=x`: list elements by index (missing elements become `null`);
//! - `a={x,y}`: a list literal;
//! - `\` escapes the next character in keys and values (`a\.b=c` sets key `a.b`; `a=x\,y` sets `x,y`);
//! - with `--set`, `true`/`false`/`null` (any case) and integers without a leading zero are typed;
//!   everything else is a string. With `--set-string` every value is a string.
//!
//! Deviation from Helm, on purpose: `a={}` is an empty list (Helm yields `[""]`).

use serde_json::{Map, Value};

/// Highest list index `--set` accepts (Helm's limit).
pub const MAX_INDEX: usize = 65536;
/// Deepest key nesting `--set` accepts (Helm's limit).
pub const MAX_NESTING: usize = 30;

/// Which flag an expression came from; decides whether values are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// `--set`: typed values.
    Typed,
    /// `--set-string`: every value a string.
    String,
}

impl SetKind {
    /// The flag as the user typed it.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Typed => "--set",
            Self::String => "--set-string",
        }
    }
}

/// A syntax error in a `--set` expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {}: {message}", shown(.expression))]
pub struct SetSyntaxError {
    /// `--set` or `--set-string`.
    pub flag: &'static str,
    /// The whole expression.
    pub expression: String,
    /// What is wrong.
    pub message: String,
}

/// Longest expression messages repeat in full; longer ones are cut (a 100 KB `--set` was echoed
/// whole, in every message about it).
const SHOWN_CHARS: usize = 120;

/// `expression` quoted for a message: in full when short, else its start and its length.
pub fn shown(expression: &str) -> String {
    let length = expression.chars().count();
    if length <= SHOWN_CHARS {
        format!("{expression:?}")
    } else {
        let start: String = expression.chars().take(SHOWN_CHARS).collect();
        format!("{start:?}... ({length} characters)")
    }
}

/// Parses `expression` into `target` (a map), Helm's `ParseInto`: existing maps and lists are updated in place.
pub fn parse_into(
    expression: &str,
    kind: SetKind,
    target: &mut Map<String, Value>,
) -> Result<(), SetSyntaxError> {
    let mut parser = Parser {
        chars: expression.chars().collect(),
        pos: 0,
        kind,
    };
    let fail = |message: String| SetSyntaxError {
        flag: kind.flag(),
        expression: expression.to_owned(),
        message,
    };
    while !parser.at_end() {
        parser.pair(target, 0).map_err(fail)?;
    }
    Ok(())
}

/// Parses `expression` into a fresh map.
pub fn parse(expression: &str, kind: SetKind) -> Result<Map<String, Value>, SetSyntaxError> {
    let mut map = Map::new();
    parse_into(expression, kind, &mut map)?;
    Ok(map)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    kind: SetKind,
}

/// Result of reading up to a stop character.
struct Run {
    text: String,
    /// The stop character that ended the run, `None` at the end of input.
    stop: Option<char>,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Reads until one of `stops` (consumed) or the end; `\` escapes the next character.
    fn until(&mut self, stops: &[char]) -> Result<Run, String> {
        let mut text = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if stops.contains(&c) {
                return Ok(Run {
                    text,
                    stop: Some(c),
                });
            }
            if c == '\\' {
                match self.peek() {
                    Some(next) => {
                        self.pos += 1;
                        text.push(next);
                    }
                    None => return Err("ends with an unfinished escape '\\'".to_owned()),
                }
            } else {
                text.push(c);
            }
        }
        Ok(Run { text, stop: None })
    }

    /// One `key=value` pair (or the rest of one, below `data`), consuming the trailing `,`.
    fn pair(&mut self, data: &mut Map<String, Value>, depth: usize) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!("keys are nested deeper than {MAX_NESTING} levels"));
        }
        let run = self.until(&['=', '[', ',', '.'])?;
        let key = run.text;
        match run.stop {
            None if key.is_empty() => Ok(()),
            None => Err(format!("key {key:?} has no value (expected {key}=VALUE)")),
            Some(',') => Err(format!("key {key:?} has no value (cannot end with ',')")),
            Some(_) if key.is_empty() => {
                Err("empty key (a key is needed before '=', '.' or '[')".to_owned())
            }
            Some('=') => {
                let value = self.value()?;
                data.insert(key, value);
                Ok(())
            }
            Some('.') => {
                let mut inner = match data.remove(&key) {
                    Some(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                let result = self.pair(&mut inner, depth + 1);
                if result.is_ok() && inner.is_empty() {
                    return Err(format!("key {key:?} is followed by '.' but no key"));
                }
                data.insert(key, Value::Object(inner));
                result
            }
            Some('[') => {
                let index = self.index()?;
                let list = match data.remove(&key) {
                    Some(Value::Array(list)) => list,
                    _ => Vec::new(),
                };
                let result = self.list_item(list, index, depth);
                match result {
                    Ok(list) => {
                        data.insert(key, Value::Array(list));
                        Ok(())
                    }
                    Err(err) => Err(err),
                }
            }
            Some(other) => Err(format!("unexpected {other:?}")),
        }
    }

    /// Reads `N]` after a `[`.
    fn index(&mut self) -> Result<usize, String> {
        let run = self.until(&[']'])?;
        if run.stop.is_none() {
            return Err(format!(
                "list index {:?} is missing its closing ']'",
                run.text
            ));
        }
        let text = run.text.trim();
        let index: i64 = text
            .parse()
            .map_err(|_| format!("list index {text:?} is not a number"))?;
        if index < 0 {
            return Err(format!("negative list index {index} is not allowed"));
        }
        let index =
            usize::try_from(index).map_err(|_| format!("list index {index} is too large"))?;
        if index > MAX_INDEX {
            return Err(format!(
                "list index {index} is greater than the maximum {MAX_INDEX}"
            ));
        }
        Ok(index)
    }

    /// What follows `key[i]`: `=value`, `.key...`, or another `[j]`.
    fn list_item(
        &mut self,
        mut list: Vec<Value>,
        index: usize,
        depth: usize,
    ) -> Result<Vec<Value>, String> {
        // `a[0][0]...` nests as deeply as `a.b...` (it overflowed the stack: no depth was checked).
        if depth > MAX_NESTING {
            return Err(format!("keys are nested deeper than {MAX_NESTING} levels"));
        }
        let run = self.until(&['[', '.', '='])?;
        if !run.text.is_empty() {
            return Err(format!(
                "unexpected {:?} after list index [{index}]",
                run.text
            ));
        }
        let element = match run.stop {
            None => return Err(format!("list element [{index}] has no value")),
            Some('=') => self.value()?,
            Some('[') => {
                let next = self.index()?;
                let inner = match list.get_mut(index).map(Value::take) {
                    Some(Value::Array(inner)) => inner,
                    _ => Vec::new(),
                };
                Value::Array(self.list_item(inner, next, depth + 1)?)
            }
            Some('.') => {
                let mut inner = match list.get_mut(index).map(Value::take) {
                    Some(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                self.pair(&mut inner, depth + 1)?;
                Value::Object(inner)
            }
            Some(other) => return Err(format!("unexpected {other:?}")),
        };
        if list.len() <= index {
            list.resize(index + 1, Value::Null);
        }
        list[index] = element;
        Ok(list)
    }

    /// A value after `=`: a `{a,b}` list literal or a scalar up to the next `,`. Consumes the `,`.
    fn value(&mut self) -> Result<Value, String> {
        if self.peek() == Some('{') {
            self.pos += 1;
            return self.list_literal();
        }
        let run = self.until(&[','])?;
        Ok(self.typed(run.text))
    }

    fn list_literal(&mut self) -> Result<Value, String> {
        let mut items = Vec::new();
        loop {
            let run = self.until(&[',', '}'])?;
            match run.stop {
                None => return Err("list literal is missing its closing '}'".to_owned()),
                Some(',') => items.push(self.typed(run.text)),
                Some(_) => {
                    if !(run.text.is_empty() && items.is_empty()) {
                        items.push(self.typed(run.text));
                    }
                    match self.peek() {
                        None => {}
                        Some(',') => self.pos += 1,
                        Some(other) => {
                            return Err(format!("unexpected {other:?} after '}}' (expected ',')"));
                        }
                    }
                    return Ok(Value::Array(items));
                }
            }
        }
    }

    fn typed(&self, text: String) -> Value {
        match self.kind {
            SetKind::String => Value::String(text),
            SetKind::Typed => typed_value(text),
        }
    }
}

/// Helm's `typedVal`: booleans and null in any case, integers that do not start with `0` (except `0`).
fn typed_value(text: String) -> Value {
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::from(0);
    }
    if !text.starts_with('0')
        && let Ok(int) = text.parse::<i64>()
    {
        return Value::from(int);
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(expr: &str) -> Value {
        Value::Object(parse(expr, SetKind::Typed).unwrap())
    }

    fn set_string(expr: &str) -> Value {
        Value::Object(parse(expr, SetKind::String).unwrap())
    }

    fn error(expr: &str) -> String {
        parse(expr, SetKind::Typed).unwrap_err().message
    }

    #[test]
    fn pairs_and_nesting() {
        assert_eq!(set("a=b"), json!({"a": "b"}));
        assert_eq!(set("a=b,c=d"), json!({"a": "b", "c": "d"}));
        assert_eq!(
            set("a.b.c=x,a.b.d=y,a.e=z"),
            json!({"a": {"b": {"c": "x", "d": "y"}, "e": "z"}})
        );
        assert_eq!(set("a="), json!({"a": ""}));
        assert_eq!(set("a=b=c"), json!({"a": "b=c"}));
    }

    #[test]
    fn typed_values_for_set() {
        assert_eq!(
            set("a=true,b=FALSE,c=null,d=42,e=-7,f=0,g=007,h=1.5,i=1e3,j=True"),
            json!({"a": true, "b": false, "c": null, "d": 42, "e": -7, "f": 0, "g": "007", "h": "1.5", "i": "1e3", "j": true})
        );
        assert_eq!(
            set("big=99999999999999999999"),
            json!({"big": "99999999999999999999"})
        );
    }

    #[test]
    fn set_string_keeps_strings() {
        assert_eq!(
            set_string("a=true,b=42,c=null,l={1,false}"),
            json!({"a": "true", "b": "42", "c": "null", "l": ["1", "false"]})
        );
    }

    #[test]
    fn list_literals() {
        assert_eq!(set("a={x,y,3}"), json!({"a": ["x", "y", 3]}));
        assert_eq!(set("a={x},b=c"), json!({"a": ["x"], "b": "c"}));
        assert_eq!(set("a={}"), json!({"a": []}));
        assert_eq!(set(r"a={x\,y,z}"), json!({"a": ["x,y", "z"]}));
    }

    #[test]
    fn list_indexes() {
        assert_eq!(set("a[0]=x,a[1]=y"), json!({"a": ["x", "y"]}));
        assert_eq!(set("a[2]=x"), json!({"a": [null, null, "x"]}));
        assert_eq!(
            set("a[0].b=x,a[0].c=y,a[1].b=z"),
            json!({"a": [{"b": "x", "c": "y"}, {"b": "z"}]})
        );
        assert_eq!(set("a[0][1]=x"), json!({"a": [[null, "x"]]}));
        assert_eq!(
            set("a.b[0].c[1]=x"),
            json!({"a": {"b": [{"c": [null, "x"]}]}})
        );
        assert_eq!(set("a[0]={x,y}"), json!({"a": [["x", "y"]]}));
    }

    #[test]
    fn escapes() {
        assert_eq!(set(r"a\.b=c"), json!({"a.b": "c"}));
        assert_eq!(
            set(r"nodeSelector.kubernetes\.io/os=linux"),
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}})
        );
        assert_eq!(set(r"a=x\,y,b=z"), json!({"a": "x,y", "b": "z"}));
        assert_eq!(set(r"a=back\\slash"), json!({"a": r"back\slash"}));
    }

    #[test]
    fn parse_into_updates_existing_structures() {
        let mut map = parse("a[0].b=1,a[1].b=2,m.x=1", SetKind::Typed).unwrap();
        parse_into("a[1].c=3,m.y=2", SetKind::Typed, &mut map).unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"a": [{"b": 1}, {"b": 2, "c": 3}], "m": {"x": 1, "y": 2}})
        );
    }

    #[test]
    fn later_pairs_win_and_replace_other_types() {
        assert_eq!(set("a=1,a=2"), json!({"a": 2}));
        assert_eq!(set("a=1,a.b=2"), json!({"a": {"b": 2}}));
    }

    #[test]
    fn syntax_errors() {
        assert!(error("a").contains("has no value"), "{}", error("a"));
        assert!(error("a.b").contains("has no value"));
        assert!(error("a,b=c").contains("cannot end with ','"));
        assert!(error("=x").contains("empty key"));
        assert!(error("a..b=x").contains("empty key"));
        assert!(error("a[x]=1").contains("is not a number"));
        assert!(error("a[-1]=1").contains("negative"));
        assert!(error("a[99999]=1").contains("maximum"));
        // Nested indices count as nesting (30000 of them overflowed the stack).
        let deep = format!("a{}=1", "[0]".repeat(30_000));
        assert!(error(&deep).contains("nested deeper than 30 levels"));
        assert!(parse(&format!("a{}=1", "[0]".repeat(MAX_NESTING)), SetKind::Typed).is_ok());
        // Long expressions are not echoed whole.
        let message = parse(&deep, SetKind::Typed).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
        assert!(message.contains("(90003 characters)"), "{message}");
        assert!(error("a[0=1").contains("closing ']'"));
        assert!(error("a[0]x=1").contains("after list index"));
        assert!(error("a[0]").contains("has no value"));
        assert!(error("a={x,y").contains("closing '}'"));
        assert!(error("a={x}y").contains("after '}'"));
        assert!(error(r"a=b\").contains("unfinished escape"));
        let deep = format!("{}=1", vec!["k"; 40].join("."));
        assert!(error(&deep).contains("nested deeper"));
    }

    #[test]
    fn error_names_flag_and_expression() {
        let err = parse("a[x]=1", SetKind::String).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"--set-string "a[x]=1": list index "x" is not a number"#
        );
    }
}
