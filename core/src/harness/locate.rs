//! Where a harness surface (a dotted key such as `prompts.system` or `policy.output`) is
//! written in `harness.toml`, so that a weakness can point at a line. A line scan, not a
//! parse: it must work on text that is being edited and does not parse right now.

/// The 0-based line of `surface` in `manifest_text`: the line of its key (`system = …`
/// under `[prompts]`, or `prompts.system = …` at the top), else its table header
/// (`[policy.output]`), else the header of its parent table. `None` when none is written.
pub fn locate_surface(manifest_text: &str, surface: &str) -> Option<u32> {
    let (parent, key) = surface.rsplit_once('.').unwrap_or(("", surface));
    let mut table = String::new();
    let mut parent_header = None;
    for (index, line) in manifest_text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = header.trim().to_string();
            if table == surface {
                return Some(index as u32);
            }
            if table == parent && parent_header.is_none() {
                parent_header = Some(index as u32);
            }
            continue;
        }
        let Some((lhs, _)) = line.split_once('=') else { continue };
        let lhs = lhs.trim().trim_matches('"');
        let full = if table.is_empty() { lhs.to_string() } else { format!("{table}.{lhs}") };
        if full == surface || (table == parent && lhs == key) {
            return Some(index as u32);
        }
    }
    parent_header
}

#[cfg(test)]
mod tests {
    use super::locate_surface;

    const TEXT: &str = "name = \"x\"\n\n[policy]\nmax_turns = 30\n\n[policy.output]\nhead_bytes = 1\n\n[prompts]\nsystem = \"system.md\"\n";

    #[test]
    fn finds_keys_tables_and_parents() {
        assert_eq!(locate_surface(TEXT, "prompts.system"), Some(9));
        assert_eq!(locate_surface(TEXT, "policy.max_turns"), Some(3));
        assert_eq!(locate_surface(TEXT, "policy.output"), Some(5));
        assert_eq!(locate_surface(TEXT, "policy.command_timeout_secs"), Some(2), "falls back to [policy]");
        assert_eq!(locate_surface(TEXT, "hooks.before_completion"), None);
        assert_eq!(locate_surface("prompts.system = \"s.md\"\n", "prompts.system"), Some(0));
    }
}
