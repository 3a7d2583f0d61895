//! A bound on YAML nesting, checked on the text before the YAML parser sees it.
//!
//! The parser behind `serde_yaml_ng` takes time quadratic in the nesting of flow collections
//! (`[[[[...` under a key: 40k levels took 4 s, 100k took 104 s), and a configuration may come
//! from a ConfigMap anyone with edit rights writes. A real Signet configuration nests about ten
//! levels (verifiers → trust policy document → policies → statement → field); [`MAX_DEPTH`] leaves
//! ample room. The scan is one linear pass and over-approximates depth only for odd input.

use crate::ConfigIssue;

/// Deepest nesting accepted: block levels (indentation, `- ` items) plus flow levels (`[`, `{`).
pub const MAX_DEPTH: usize = 64;

/// Largest configuration file accepted, in bytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Fails when the text nests deeper than [`MAX_DEPTH`], naming where.
pub fn check(text: &str) -> Result<(), ConfigIssue> {
    let mut scan = Scan::default();
    for (n, line) in text.lines().enumerate() {
        scan.line(line).map_err(|col| ConfigIssue {
            path: String::new(),
            message: format!(
                "the YAML nests deeper than {MAX_DEPTH} levels at line {}, column {}; a Signet configuration never nests this deep, so it is rejected before parsing",
                n + 1,
                col + 1
            ),
        })?;
    }
    Ok(())
}

#[derive(Default)]
struct Scan {
    /// Indentation of the enclosing block levels.
    indents: Vec<usize>,
    /// Open `[`/`{` collections.
    flow: usize,
    /// Inside a quoted scalar that continues on the next line.
    quote: Option<char>,
    /// Inside a block scalar (`|`, `>`) whose header line had this indentation.
    block_scalar: Option<usize>,
}

impl Scan {
    /// Scans one line; `Err(column)` where the limit is passed.
    fn line(&mut self, line: &str) -> Result<(), usize> {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if let Some(header) = self.block_scalar {
            if rest.is_empty() || indent > header {
                return Ok(());
            }
            self.block_scalar = None;
        }
        if self.quote.is_none() && self.flow == 0 {
            if rest.is_empty() || rest.starts_with('#') {
                return Ok(());
            }
            while self.indents.last().is_some_and(|&top| top >= indent) {
                self.indents.pop();
            }
            self.indents.push(indent);
        }
        let mut dashes = 0;
        let bytes = line.as_bytes();
        let mut prev = b' ';
        let mut i = indent;
        if self.quote.is_none() && self.flow == 0 {
            while bytes.get(i) == Some(&b'-') && matches!(bytes.get(i + 1), Some(b' ') | None) {
                dashes += 1;
                i += 2;
                while bytes.get(i) == Some(&b' ') {
                    i += 1;
                }
            }
        }
        let depth = |flow: usize, indents: usize| indents + dashes + flow;
        if depth(self.flow, self.indents.len()) > MAX_DEPTH {
            return Err(indent);
        }
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(q) = self.quote {
                if q == '"' && c == b'\\' {
                    i += 2;
                    continue;
                }
                if c == q as u8 {
                    if q == '\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    self.quote = None;
                }
                prev = c;
                i += 1;
                continue;
            }
            let token_start = matches!(prev, b' ' | b'\t' | b'[' | b'{' | b',' | b':' | b'-');
            match c {
                b'#' if prev == b' ' || prev == b'\t' || i == indent => break,
                b'"' | b'\'' if token_start => self.quote = Some(c as char),
                b'[' | b'{' if token_start => {
                    self.flow += 1;
                    if depth(self.flow, self.indents.len()) > MAX_DEPTH {
                        return Err(i);
                    }
                }
                b']' | b'}' => self.flow = self.flow.saturating_sub(1),
                _ => {}
            }
            prev = c;
            i += 1;
        }
        // A block scalar header (`key: |`, `- >-`, `|2`) ends its line outside flow and quotes.
        if self.quote.is_none() && self.flow == 0 {
            let code = strip_comment(line).trim_end();
            let last_token = code.rsplit([' ', '\t']).next().unwrap_or("");
            if last_token.starts_with(['|', '>'])
                && last_token[1..]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '+')
            {
                self.block_scalar = Some(indent);
            }
        }
        Ok(())
    }
}

/// The line without a trailing ` # comment` (quotes are not considered: only used to find a
/// block scalar header, which a quoted value never is).
fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_configurations_pass() {
        let text = r#"
server:
  listen: 127.0.0.1:6001   # comment with [ and {
verifiers:
  - name: notation
    artifactTypes: [application/vnd.cncf.notary.signature]
    trustPolicyDoc:
      trustPolicies:
        - name: "a [ quoted ] name"
          registryScopes: ['it''s [', "\" {"]
          trustedIdentities: ["*"]
    rego: |
      deny[msg] { [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ }
policy:
  default: all
"#;
        check(text).unwrap();
    }

    #[test]
    fn deep_flow_block_and_dash_nesting_fail_with_the_line() {
        let flow = format!("server:\n  listen: {}", "[".repeat(100_000));
        let e = check(&flow).unwrap_err();
        assert!(e.message.contains("line 2"), "{}", e.message);
        assert!(e.message.contains("64 levels"), "{}", e.message);
        assert!(check(&"{a: ".repeat(70)).is_err());
        assert!(check(&format!("verifiers:\n{}x", "- ".repeat(70))).is_err());
        let mut block = String::new();
        for i in 0..70 {
            block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        assert!(check(&block).is_err());
        // 60 levels of flow under one key are still accepted
        check(&format!("a: {}{}", "[".repeat(60), "]".repeat(60))).unwrap();
    }
}
