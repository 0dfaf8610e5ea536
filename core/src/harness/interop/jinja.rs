//! Renaming the variables of a Jinja template, token by token: `{{task}}` becomes
//! `{{instruction}}`, `output.returncode` becomes `exit_code`, and nothing outside the
//! template's expressions and statements is touched (a `task` in the prose stays a `task`).

use minijinja::machinery::{tokenize, Token};
use minijinja::syntax::SyntaxConfig;

/// One renaming: the variable (and, for `output.returncode`, the attribute read from it),
/// and what it becomes.
#[derive(Debug, Clone, Copy)]
pub struct Rename {
    pub variable: &'static str,
    pub attribute: Option<&'static str>,
    pub to: &'static str,
}

/// `variable` → `to`.
pub const fn var(variable: &'static str, to: &'static str) -> Rename {
    Rename { variable, attribute: None, to }
}

/// `variable.attribute` → `to`.
pub const fn attr(variable: &'static str, attribute: &'static str, to: &'static str) -> Rename {
    Rename { variable, attribute: Some(attribute), to }
}

/// `text` with every renamed variable replaced, or the tokenizer's error. A variable read
/// as an attribute of something else (`x.task`) or named after a dot is left alone; one
/// that a renaming names with an attribute is renamed only with that attribute.
pub fn rename(text: &str, renames: &[Rename]) -> Result<String, minijinja::Error> {
    let tokens: Vec<(Token, usize, usize)> = tokenize(text, false, SyntaxConfig::default())
        .map(|t| t.map(|(token, span)| (token, span.start_offset as usize, span.end_offset as usize)))
        .collect::<Result<_, _>>()?;
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < tokens.len() {
        let (token, start, end) = &tokens[i];
        let after_dot = i > 0 && matches!(tokens[i - 1].0, Token::Dot);
        let Token::Ident(name) = token else {
            i += 1;
            continue;
        };
        if after_dot {
            i += 1;
            continue;
        }
        let attribute = match (tokens.get(i + 1), tokens.get(i + 2)) {
            (Some((Token::Dot, _, _)), Some((Token::Ident(attribute), _, attr_end))) => Some((*attribute, *attr_end)),
            _ => None,
        };
        let with_attribute = attribute.and_then(|(a, attr_end)| {
            renames.iter().find(|r| r.variable == *name && r.attribute == Some(a)).map(|r| (r.to, attr_end))
        });
        let plain = renames.iter().find(|r| r.variable == *name && r.attribute.is_none()).map(|r| (r.to, *end));
        if let Some((to, until)) = with_attribute.or(plain) {
            out.push_str(&text[copied..*start]);
            out.push_str(to);
            copied = until;
            i += if with_attribute.is_some() { 3 } else { 1 };
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

/// The template's variables that none of `renames` covers and that are not among `kept`
/// (names that mean the same on both sides), as the template names them (`output.foo`,
/// `cwd`), each once; `None` when the template does not compile.
pub fn unmapped(text: &str, renames: &[Rename], kept: &[&str]) -> Option<Vec<String>> {
    let env = minijinja::Environment::new();
    let template = env.template_from_str(text).ok()?;
    let covered = |path: &str| {
        let mut parts = path.split('.');
        let (root, attribute) = (parts.next().unwrap_or_default(), parts.next());
        kept.contains(&root)
            || renames.iter().any(|r| r.variable == root && (r.attribute.is_none() || r.attribute == attribute))
    };
    let mut names: Vec<String> = template.undeclared_variables(true).into_iter().filter(|v| !covered(v)).collect();
    names.sort();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENAMES: &[Rename] = &[
        var("task", "instruction"),
        attr("output", "returncode", "exit_code"),
        attr("output", "output", "output"),
        var("system", "uname.system"),
    ];

    #[test]
    fn only_the_template_code_is_renamed() {
        let text = "Solve this task: {{task}} on {{ system }}.\n{% if output.returncode != 0 %}{{ output.output[:10] | tojson }}{% endif %}{{ x.task }}";
        assert_eq!(
            rename(text, RENAMES).unwrap(),
            "Solve this task: {{instruction}} on {{ uname.system }}.\n{% if exit_code != 0 %}{{ output[:10] | tojson }}{% endif %}{{ x.task }}"
        );
        assert!(rename("{{ 'unterminated }}", RENAMES).is_err());
    }

    #[test]
    fn what_no_renaming_covers_is_named() {
        let text = "{{ task }} {{ error }} {{ cwd }} {{ output.foo }} {{ output.returncode }}";
        assert_eq!(unmapped(text, RENAMES, &["error"]), Some(vec!["cwd".to_string(), "output.foo".to_string()]));
        assert_eq!(unmapped("{% if %}", RENAMES, &[]), None);
    }
}
