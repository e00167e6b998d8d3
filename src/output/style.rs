use console::Style as ConsoleStyle;

/// Colours and symbols for human output; plain when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    pub fn color_enabled(&self) -> bool {
        self.color
    }

    fn paint(&self, style: ConsoleStyle, text: &str) -> String {
        if self.color {
            style.force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }

    pub fn ok(&self, text: &str) -> String {
        self.paint(ConsoleStyle::new().green(), text)
    }

    pub fn warning(&self, text: &str) -> String {
        self.paint(ConsoleStyle::new().yellow(), text)
    }

    pub fn error(&self, text: &str) -> String {
        self.paint(ConsoleStyle::new().red().bold(), text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(ConsoleStyle::new().bold(), text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(ConsoleStyle::new().dim(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_no_escape_codes() {
        let s = Style::new(false);
        assert_eq!(s.error("x"), "x");
        assert_eq!(s.ok("y"), "y");
    }

    #[test]
    fn colour_style_adds_escape_codes() {
        let s = Style::new(true);
        assert!(s.error("x").contains('\u{1b}'));
    }
}
