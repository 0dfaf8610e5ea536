//! The harness folder format: the minimal harness loads, hashes and renders; every kind of
//! problem is reported at its exact place, all at once; the published JSON Schema matches
//! the Rust types; and no input, however mangled, makes loading panic.

use std::path::{Path, PathBuf};

use self_harness::harness::{
    check_manifest, check_manifest_text, check_template, json_schema_text, ActionFormat, Harness, HarnessDiagnostic,
    PromptContext, Severity, TemplateKind,
};
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn minimal() -> PathBuf {
    repo().join("harnesses/minimal")
}

/// Writes a harness folder with `harness.toml` = `manifest` and the given files.
fn folder(manifest: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("harness.toml"), manifest).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const PROMPTS: &[(&str, &str)] = &[("system.md", "You act in {{ workdir }}."), ("instruction.md", "{{ instruction }}")];

const BASE: &str = "name = \"t\"\n[prompts]\nsystem = \"system.md\"\ninstruction = \"instruction.md\"\n";

/// (code, start line, start column, end line, end column) of each diagnostic.
fn places(diagnostics: &[HarnessDiagnostic]) -> Vec<(&'static str, usize, usize, usize, usize)> {
    diagnostics
        .iter()
        .map(|d| (d.code, d.range.start.line, d.range.start.column, d.range.end.line, d.range.end.column))
        .collect()
}

fn errors_of(manifest: &str, files: &[(&str, &str)]) -> Vec<HarnessDiagnostic> {
    let dir = folder(manifest, files);
    match Harness::load(dir.path()) {
        Ok(h) => panic!("expected errors, loaded {}", h.name()),
        Err(diagnostics) => diagnostics,
    }
}

fn context() -> PromptContext {
    PromptContext {
        instruction: "Count the lines of /app/data.txt.".into(),
        task_name: "count-lines".into(),
        workdir: "/app".into(),
        ..Default::default()
    }
}

#[test]
fn minimal_harness_loads_and_renders() {
    let harness = Harness::load(minimal()).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(harness.name(), "minimal");
    assert!(harness.warnings().is_empty(), "{:#?}", harness.warnings());
    let policy = harness.policy();
    assert_eq!((policy.max_turns, policy.command_timeout_secs), (30, 120));
    assert_eq!((policy.output.head_bytes, policy.output.tail_bytes), (4096, 4096));
    assert_eq!(policy.action_format, ActionFormat::Json);
    assert!(harness.tools().is_empty() && harness.notes().is_empty() && harness.before_completion().is_none());

    let system = harness.render_system(&context()).unwrap();
    assert!(system.contains("Commands run in `/app`"), "{system}");
    assert!(system.contains("120 seconds") && system.contains("You have 30 turns"), "{system}");
    let instruction = harness.render_instruction(&context()).unwrap();
    assert_eq!(instruction.trim(), "Count the lines of /app/data.txt.");

    let schema = harness.action_schema();
    assert_eq!(schema["required"], serde_json::json!(["thought", "command", "done"]));
    assert_eq!(harness.response_format()["json_schema"]["schema"], schema);
    assert_eq!(harness.tool_spec()[0]["function"]["name"], "shell");
    assert_eq!(harness.version().len(), 12);
}

#[test]
fn every_shipped_harness_loads_without_a_warning_and_renders() {
    for entry in std::fs::read_dir(repo().join("harnesses")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("harness.toml").is_file() {
            continue;
        }
        let harness = Harness::load(&dir).unwrap_or_else(|d| panic!("{}: {d:#?}", dir.display()));
        assert!(harness.warnings().is_empty(), "{}: {:#?}", dir.display(), harness.warnings());
        let system = harness.render_system(&context()).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
        assert!(system.contains("one shell command"), "{}: {system}", dir.display());
    }
}

#[test]
fn rendering_lists_tools_and_notes() {
    let manifest = format!(
        "{BASE}[[tools]]\nname = \"view\"\nfile = \"tools/view.sh\"\ndescription = \"Show a file\"\nusage = \"view FILE\"\n\
         [[notes]]\nname = \"git\"\nfile = \"notes/git.md\"\n"
    );
    let system = "{% for t in tools %}{{ t.name }} at {{ t.path }}: {{ t.usage }}\n{% endfor %}\
                  {% for n in notes %}{{ n.name }}: {{ n.text }}{% endfor %}";
    let dir = folder(
        &manifest,
        &[
            ("system.md", system),
            ("instruction.md", "{{ task_name }}"),
            ("tools/view.sh", "#!/bin/sh\ncat \"$1\"\n"),
            ("notes/git.md", "Use git log."),
        ],
    );
    let harness = Harness::load(dir.path()).unwrap_or_else(|d| panic!("{d:#?}"));
    let rendered = harness.render_system(&context()).unwrap();
    assert_eq!(rendered, "view at /opt/harness/tools/view: view FILE\ngit: Use git log.");
    assert_eq!(harness.render_instruction(&context()).unwrap(), "count-lines");
    assert_eq!(harness.tools()[0].script, b"#!/bin/sh\ncat \"$1\"\n");
}

#[test]
fn render_fails_on_undefined_attribute() {
    let dir = folder(BASE, &[("system.md", "{% for t in tools %}{{ t.nmae }}{% endfor %}"), ("instruction.md", "x")]);
    let manifest = format!("{BASE}[[tools]]\nname = \"a\"\nfile = \"a.sh\"\ndescription = \"d\"\n");
    std::fs::write(dir.path().join("harness.toml"), manifest).unwrap();
    std::fs::write(dir.path().join("a.sh"), "#!/bin/sh\n").unwrap();
    let harness = Harness::load(dir.path()).unwrap();
    let error = harness.render_system(&context()).unwrap_err();
    assert!(error.to_string().contains("system.md"), "{error}");
}

#[test]
fn version_follows_the_recipe_and_every_named_file() {
    let dir = folder(BASE, PROMPTS);
    let harness = Harness::load(dir.path()).unwrap();

    // The recipe in harnesses/README.md, computed independently.
    let mut files: Vec<(&str, &[u8])> = vec![("harness.toml", BASE.as_bytes())];
    files.extend(PROMPTS.iter().map(|(p, t)| (*p, t.as_bytes())));
    files.sort();
    let mut hasher = Sha256::new();
    for (path, content) in files {
        hasher.update(path.as_bytes());
        hasher.update([0u8]);
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(content);
    }
    assert_eq!(harness.version(), &hex::encode(hasher.finalize())[..12]);

    // Same content elsewhere: same id. Files the manifest does not name do not count.
    let copy = folder(BASE, PROMPTS);
    std::fs::write(copy.path().join("scratch.md"), "not part of the harness").unwrap();
    assert_eq!(Harness::load(copy.path()).unwrap().version(), harness.version());

    // Any change to any named file changes it.
    let mut seen = vec![harness.version().to_string()];
    for (file, text) in [
        ("system.md", "You act in {{ workdir }}. "),
        ("instruction.md", "{{ instruction }}\n"),
        ("harness.toml", &format!("{BASE}# comment\n")),
    ] {
        let changed = folder(BASE, PROMPTS);
        std::fs::write(changed.path().join(file), text).unwrap();
        let version = Harness::load(changed.path()).unwrap().version().to_string();
        assert!(!seen.contains(&version), "changing {file} kept the version {version}");
        seen.push(version);
    }
    // The minimal harness's id does not depend on where it is.
    assert_eq!(Harness::load(minimal()).unwrap().version(), Harness::load(minimal()).unwrap().version());
}

#[test]
fn toml_syntax_error_is_located() {
    let d = errors_of("name = \"t\"\n[prompts\nsystem = \"system.md\"\n", PROMPTS);
    assert_eq!(d[0].code, "toml-syntax", "{d:#?}");
    assert_eq!((d[0].range.start.line, d[0].range.start.column), (2, 9), "{d:#?}");
    assert_eq!(d[0].message, "TOML syntax error: unclosed table, expected `]`");
    // The parser recovers and the rest is still checked, without echoing the syntax error
    // as missing keys.
    assert!(d.iter().all(|d| d.code != "missing-key"), "{d:#?}");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let d = errors_of(&format!("{BASE}[policy]\nmax_turn = 3\n"), PROMPTS);
    assert_eq!(places(&d), [("unknown-key", 6, 1, 6, 9)]);
    assert_eq!(d[0].message, "unknown key `max_turn` in [policy]; did you mean `max_turns`?");
    assert_eq!(d[0].severity, Severity::Error);
}

#[test]
fn wrong_type_and_out_of_range_and_bad_enum() {
    let manifest = format!(
        "{BASE}[policy]\nmax_turns = \"ten\"\ncommand_timeout_secs = 0\ntemperature = 3.5\naction_format = \"jsn\"\n"
    );
    let d = errors_of(&manifest, PROMPTS);
    assert_eq!(
        places(&d),
        [
            ("wrong-type", 6, 13, 6, 18),
            ("out-of-range", 7, 24, 7, 25),
            ("out-of-range", 8, 15, 8, 18),
            ("invalid-value", 9, 17, 9, 22),
        ],
        "{d:#?}"
    );
    assert_eq!(d[0].message, "`policy.max_turns` must be an integer 1..=1000, found string");
    assert_eq!(d[1].message, "`policy.command_timeout_secs` must be between 1 and 86400, found 0");
    assert!(d[3].message.contains("did you mean \"json\""), "{}", d[3].message);
}

#[test]
fn missing_required_key_is_reported() {
    let d = errors_of("name = \"t\"\n[prompts]\nsystem = \"system.md\"\n", PROMPTS);
    assert_eq!(places(&d), [("missing-key", 2, 1, 2, 10)], "{d:#?}");
    assert!(d[0].message.starts_with("missing required key `prompts.instruction`"), "{}", d[0].message);
}

#[test]
fn missing_file_points_at_its_key() {
    let d = errors_of(BASE, &[("system.md", "x")]);
    assert_eq!(places(&d), [("file-missing", 4, 15, 4, 31)], "{d:#?}");
    assert!(
        d[0].message.contains("\"instruction.md\" (named by `prompts.instruction`) does not exist"),
        "{}",
        d[0].message
    );
}

#[test]
fn template_problems_are_located_in_the_template() {
    let d = errors_of(BASE, &[("system.md", "Hello\n{% if x %}\nno end"), ("instruction.md", "Do: {{ instrution }}")]);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(d[0].code, "template-syntax");
    assert!(d[0].path.ends_with("system.md"));
    // minijinja marks from the unclosed block to the end of the input.
    assert_eq!(places(&d[..1]), [("template-syntax", 2, 11, 3, 7)]);
    assert_eq!(places(&d[1..]), [("unknown-variable", 1, 8, 1, 18)]);
    assert!(d[1].path.ends_with("instruction.md"));
    assert_eq!(d[1].message, "unknown template variable `instrution`; did you mean `instruction`?");
}

#[test]
fn duplicate_tool_names_and_escaping_paths() {
    let tool =
        |name: &str, file: &str| format!("[[tools]]\nname = \"{name}\"\nfile = \"{file}\"\ndescription = \"d\"\n");
    let manifest = format!("{BASE}{}{}{}", tool("view", "a.sh"), tool("view", "a.sh"), tool("x", "../b.sh"));
    let d = errors_of(&manifest, &[PROMPTS[0], PROMPTS[1], ("a.sh", "#!/bin/sh\n")]);
    assert_eq!(places(&d), [("duplicate-name", 10, 8, 10, 14), ("path-outside", 15, 8, 15, 17)], "{d:#?}");
}

#[test]
fn a_file_that_links_outside_the_folder_is_refused_and_never_read() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "HOST SECRET").unwrap();
    let manifest = format!("{BASE}[[tools]]\nname = \"keys\"\nfile = \"tools/keys.sh\"\ndescription = \"d\"\n");
    let dir = folder(&manifest, PROMPTS);
    std::fs::create_dir_all(dir.path().join("tools")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), dir.path().join("tools/keys.sh")).unwrap();
    let d = Harness::load(dir.path()).unwrap_err();
    assert_eq!(places(&d), [("path-outside", 7, 8, 7, 23)], "{d:#?}");
    assert!(d[0].message.contains("leads outside the harness folder"), "{d:#?}");

    // A link that stays inside is fine, and copying a harness copies links as links.
    std::fs::remove_file(dir.path().join("tools/keys.sh")).unwrap();
    std::fs::write(dir.path().join("tools/real.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::os::unix::fs::symlink("real.sh", dir.path().join("tools/keys.sh")).unwrap();
    Harness::load(dir.path()).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
    let copy = tempfile::tempdir().unwrap();
    self_harness::util::copy_dir(dir.path(), &copy.path().join("h")).unwrap();
    let copied = copy.path().join("h/elsewhere");
    assert!(copied.symlink_metadata().unwrap().file_type().is_symlink(), "the link was followed");
}

#[test]
fn completion_rule_and_hook_must_agree() {
    let d = errors_of(&format!("{BASE}[policy]\ncompletion = \"declare_after_check\"\n"), PROMPTS);
    assert_eq!(places(&d), [("missing-hook", 6, 14, 6, 35)], "{d:#?}");

    let with_hook = format!("{BASE}[hooks.before_completion]\nfile = \"check.sh\"\n");
    let dir = folder(&with_hook, &[PROMPTS[0], PROMPTS[1], ("check.sh", "#!/bin/sh\n")]);
    let harness = Harness::load(dir.path()).unwrap();
    assert_eq!(places(harness.warnings()), [("unused-hook", 5, 1, 5, 26)]);
    assert_eq!(harness.before_completion().unwrap().timeout.as_secs(), 60);
}

#[test]
fn the_field_s_surfaces_are_checked_where_they_are_written() {
    // A markdown harness needs a way to finish.
    let d = errors_of(&format!("{BASE}[policy]\naction_format = \"markdown\"\n"), PROMPTS);
    assert_eq!(places(&d), [("no-way-to-finish", 6, 17, 6, 27)], "{d:#?}");
    for finish in ["[policy.markdown]\nno_block = \"done\"\n", "completion = \"command\"\n"] {
        let manifest = format!("{BASE}[policy]\naction_format = \"markdown\"\n{finish}");
        let dir = folder(&manifest, PROMPTS);
        let harness = Harness::load(dir.path()).unwrap_or_else(|d| panic!("{d:#?}"));
        assert!(harness.warnings().is_empty(), "{:#?}", harness.warnings());
    }
    // Keys that only one setting reads warn without it.
    let manifest = format!("{BASE}[policy]\ncompletion_signal = \"FIN\"\n[policy.markdown]\ninfo_string = \"sh\"\n");
    let dir = folder(&manifest, PROMPTS);
    let codes: Vec<_> = Harness::load(dir.path()).unwrap().warnings().iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unused-key", "unused-key"]);
    // A keystrokes harness types into one terminal: the shell mode is not read.
    let manifest =
        format!("{BASE}[policy]\naction_format = \"keystrokes\"\ncompletion = \"twice\"\nshell = \"fresh\"\n");
    let dir = folder(&manifest, PROMPTS);
    let warnings: Vec<_> =
        Harness::load(dir.path()).unwrap().warnings().iter().map(|d| (d.code, d.range.start.line)).collect();
    assert_eq!(warnings, [("unused-key", 8)]);
    // Environment variables must be names a shell can export.
    let d = errors_of(&format!("{BASE}[policy.env]\nPAGER = \"cat\"\n\"1BAD\" = \"x\"\n"), PROMPTS);
    assert_eq!(places(&d), [("invalid-name", 7, 1, 7, 7)], "{d:#?}");
    // Enum values are offered with the right spelling.
    let d = errors_of(&format!("{BASE}[policy]\nshell = \"fresh_each\"\n"), PROMPTS);
    assert_eq!(d[0].code, "invalid-value", "{d:#?}");
}

#[test]
fn the_observation_and_format_error_templates_default_to_what_minimal_names() {
    let plain = folder(BASE, PROMPTS);
    let plain = Harness::load(plain.path()).unwrap();
    let minimal = Harness::load(minimal()).unwrap();
    let seen = self_harness::harness::Observation {
        command: "ls".into(),
        exit_code: Some(2),
        output: "nope\n".into(),
        truncated: false,
        omitted_bytes: 0,
        timed_out: false,
        timeout_secs: 120,
        exception_info: String::new(),
    };
    let timed_out = self_harness::harness::Observation { exit_code: None, timed_out: true, ..seen.clone() };
    for seen in [seen, timed_out] {
        assert_eq!(
            plain.render_observation(&context(), &seen).unwrap(),
            minimal.render_observation(&context(), &seen).unwrap(),
            "minimal's observation.md is the built-in text"
        );
    }
    let problem = self_harness::harness::FormatError { error: "EOF while parsing".into(), ..Default::default() };
    let said = minimal.render_format_error(&context(), &problem).unwrap();
    assert_eq!(said, plain.render_format_error(&context(), &problem).unwrap());
    assert!(
        said.starts_with("Your reply is not a valid action (EOF while parsing). Reply with exactly one JSON object"),
        "{said}"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let manifest = "name = \"\"\ncolour = 1\n[policy]\nmax_turns = 0\n[prompts]\nsystem = \"gone.md\"\ninstruction = \"instruction.md\"\n";
    let d = errors_of(manifest, PROMPTS);
    let codes: Vec<_> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["out-of-range", "unknown-key", "out-of-range"], "{d:#?}");
    // Type-level problems stop before the files are read; file problems come all together too.
    let manifest =
        format!("{BASE}[[notes]]\nname = \"a\"\nfile = \"a.md\"\n[[notes]]\nname = \"b\"\nfile = \"b.md\"\n");
    let d = errors_of(&manifest, &[("system.md", "{{ nope }}"), ("instruction.md", "{% for %}")]);
    let codes: Vec<_> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unknown-variable", "template-syntax", "file-missing", "file-missing"], "{d:#?}");
}

#[test]
fn columns_are_characters_not_bytes() {
    let manifest =
        "name = \"héllo wörld\"\ndescription = \"€€€\" ; oops\n[prompts]\nsystem = \"s.md\"\ninstruction = \"i.md\"\n";
    let d = check_manifest_text(Path::new("harness.toml"), manifest);
    assert_eq!(d[0].code, "toml-syntax");
    assert_eq!((d[0].range.start.line, d[0].range.start.column), (2, 21), "{d:#?}");

    let manifest =
        "name = \"ünï\"\n[policy]\nmax_turns = 0 # ≥ 1\n[prompts]\nsystem = \"s.md\"\ninstruction = \"i.md\"\n";
    let d = check_manifest_text(Path::new("harness.toml"), manifest);
    assert_eq!(places(&d), [("out-of-range", 3, 13, 3, 14)]);

    let d = check_template(Path::new("s.md"), "Grüße, {{ wrkdir }}", TemplateKind::System);
    assert_eq!(places(&d), [("unknown-variable", 1, 11, 1, 17)], "{d:#?}");
    // Identifiers are ASCII in minijinja: the error is at the `ö`, counted in characters.
    let d = check_template(Path::new("s.md"), "Grüße, {{ wörkdir }}", TemplateKind::System);
    assert_eq!(places(&d), [("template-syntax", 1, 12, 1, 12)], "{d:#?}");
}

#[test]
fn editor_check_sees_unsaved_text_and_the_files_on_disk() {
    let dir = folder(BASE, PROMPTS);
    let path = dir.path().join("harness.toml");
    assert_eq!(check_manifest(&path, BASE), vec![]);
    let edited = BASE.replace("system.md", "sys.md");
    assert_eq!(places(&check_manifest(&path, &edited)), [("file-missing", 3, 10, 3, 18)]);
    assert_eq!(check_manifest_text(&path, &edited), vec![]);
}

#[test]
fn schema_file_is_up_to_date() {
    let path = repo().join("harnesses/harness.schema.json");
    let generated = json_schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "harnesses/harness.schema.json is out of date; regenerate it with \
         `UPDATE_SCHEMA=1 cargo test -p self-harness --test harness schema_file_is_up_to_date`"
    );
}

/// A tiny deterministic generator, so a failure can be replayed from its iteration number.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, text: &str) -> String {
    const PIECES: &[&str] = &[
        "\"",
        "'",
        "[",
        "]",
        "[[",
        "]]",
        "=",
        "\n",
        "#",
        "{",
        "}",
        "{{",
        "}}",
        "{%",
        "%}",
        ".",
        ",",
        "\\",
        "é",
        "€",
        "𝄞",
        "0",
        "-1",
        "1e999",
        "nan",
        "inf",
        "true",
        "\"\"\"",
        "'''",
        "x",
        " ",
        "\t",
        "\r",
        "0x7f",
        "99999999999999999999",
        "tools",
        "name",
        "[[tools]]",
        "[policy]",
        "[hooks.before_completion]",
        "file = \"../x\"",
        "{{ policy.zz }}",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 => {
                let piece = PIECES[rng.below(PIECES.len())];
                chars.splice(at..at, piece.chars());
            }
            1 if at < chars.len() => {
                let end = (at + 1 + rng.below(8)).min(chars.len());
                chars.drain(at..end);
            }
            2 if at < chars.len() => {
                let end = (at + 1 + rng.below(30)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                let to = rng.below(chars.len() + 1);
                chars.splice(to..to, copy);
            }
            _ => chars.insert(at, char::from_u32(rng.below(0x2FFF) as u32).unwrap_or('?')),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn random_mutations_never_panic() {
    let original = std::fs::read_to_string(minimal().join("harness.toml")).unwrap();
    let system = std::fs::read_to_string(minimal().join("system.md")).unwrap();
    let dir = folder(&original, &[("system.md", &system), ("instruction.md", "{{ instruction }}")]);
    let path = dir.path().join("harness.toml");
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    for i in 0..3000 {
        let text = mutate(&mut rng, &original);
        let template = mutate(&mut rng, &system);
        let result = std::panic::catch_unwind(|| {
            let diagnostics = check_manifest(&path, &text);
            for d in &diagnostics {
                assert!(d.range.start <= d.range.end && d.range.start.line >= 1 && d.range.start.column >= 1);
            }
            check_template(Path::new("system.md"), &template, TemplateKind::System);
        });
        assert!(result.is_ok(), "iteration {i} panicked on:\n{text}\n---\n{template}");
        if i % 10 == 0 {
            std::fs::write(&path, &text).unwrap();
            std::fs::write(dir.path().join("system.md"), &template).unwrap();
            if let Ok(harness) = Harness::load(dir.path()) {
                let _ = harness.render_system(&context());
                let _ = harness.render_instruction(&context());
            }
        }
    }
}

#[test]
fn readme_documents_every_key() {
    let readme = std::fs::read_to_string(repo().join("harnesses/README.md")).unwrap();
    for doc in self_harness::harness::key_docs() {
        let leaf = doc.path.rsplit('.').next().unwrap();
        let mentioned = readme.contains(&format!("`{}`", doc.path))
            || readme.contains(&format!("`[{}]`", doc.path))
            || readme.contains(&format!("`[[{leaf}]]`"));
        assert!(mentioned, "harnesses/README.md does not document `{}`", doc.path);
    }
    for (variable, _) in self_harness::harness::TEMPLATE_VARIABLES {
        assert!(
            readme.contains(&format!("| `{variable}` |")),
            "README does not list the template variable `{variable}`"
        );
    }
}

#[test]
fn a_harness_that_does_not_load_says_where_and_every_reason() {
    let manifest =
        format!("{BASE}[[notes]]\nname = \"a\"\nfile = \"a.md\"\n[[notes]]\nname = \"b\"\nfile = \"b.md\"\n");
    let dir = folder(&manifest, PROMPTS);
    let message = Harness::open(dir.path()).expect_err("notes a.md and b.md are missing").to_string();
    let first = format!("the harness {} does not load:\n  ", dir.path().display());
    assert!(message.starts_with(&first), "{message}");
    let reasons: Vec<&str> = message.lines().skip(1).collect();
    assert_eq!(reasons.len(), 2, "one line per problem: {message}");
    assert!(reasons[0].contains("a.md") && reasons[1].contains("b.md"), "{message}");
    assert!(Harness::open(minimal()).is_ok());
}
