//! How the server computes, apart from which model it serves: speculative decoding, batch
//! sizes, prompt-cache reuse, threads for prompt processing and parallel slots. One
//! configuration is one short spec (`ngram-simple:8+cache-reuse:256`), so that `model
//! serve --serving` and `bench model --config` name configurations the same way and a
//! benchmark's row can be served as it stands. [`Serving::default`] is llama.cpp's own
//! defaults: on this project's 2-core machine `bench model` measured nothing faster
//! (docs/serving.md has the table and why).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Speculative decoding: drafts checked by the served model in one batch. Each token is
/// still sampled from the served model's own distribution, so greedy replies are the
/// same token for token and sampled ones follow the same distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Speculation {
    /// Drafts copied from the context after the latest matching n-gram (no second model).
    NgramSimple { draft_max: u32 },
    /// Drafts from a map of the context's n-grams to what followed them.
    NgramMapK { draft_max: u32 },
    /// Drafts from a rolling hash of the context's n-grams.
    NgramMod { draft_max: u32 },
    /// Drafts from the 0.5B model (same vocabulary as the 1.5B).
    Draft { draft_max: u32 },
}

impl Speculation {
    fn name(self) -> &'static str {
        match self {
            Speculation::NgramSimple { .. } => "ngram-simple",
            Speculation::NgramMapK { .. } => "ngram-map-k",
            Speculation::NgramMod { .. } => "ngram-mod",
            Speculation::Draft { .. } => "draft",
        }
    }

    pub fn draft_max(self) -> u32 {
        match self {
            Speculation::NgramSimple { draft_max }
            | Speculation::NgramMapK { draft_max }
            | Speculation::NgramMod { draft_max }
            | Speculation::Draft { draft_max } => draft_max,
        }
    }

    /// A draft this long at most: on a CPU a rejected draft costs what its tokens cost as
    /// a prompt, so llama.cpp's defaults (48 and 64, sized for GPUs) are cut.
    const DEFAULT_DRAFT_MAX: u32 = 8;
}

/// One server configuration; `None` fields are llama.cpp's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Serving {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speculation: Option<Speculation>,
    /// Logical batch (tokens per decode call while processing a prompt); llama.cpp: 2048.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Physical batch; llama.cpp: 512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ubatch: Option<u32>,
    /// Reuse cached chunks of at least this many tokens after a shifted prefix (a
    /// harness that drops old turns); llama.cpp: 0, off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_reuse: Option<u32>,
    /// Threads for prompt processing (generation keeps `--threads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_batch: Option<usize>,
    /// Requests served at once, each with its own share of the context; llama.cpp here: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u32>,
}

impl Serving {
    /// llama.cpp's own defaults: the configuration every figure before `bench model` had.
    pub const LLAMA_CPP: Serving =
        Serving { speculation: None, batch: None, ubatch: None, cache_reuse: None, threads_batch: None, slots: None };

    /// The launcher's arguments for this configuration (`draft_model`: the GGUF drafting
    /// under [`Speculation::Draft`]).
    pub fn launcher_args(&self, draft_model: Option<&std::path::Path>) -> Vec<String> {
        let mut args = Vec::new();
        let mut push = |flag: &str, value: String| {
            args.push(flag.to_string());
            args.push(value);
        };
        if let Some(speculation) = self.speculation {
            push("--spec", speculation.name().into());
            push("--draft-max", speculation.draft_max().to_string());
            if let (Speculation::Draft { .. }, Some(path)) = (speculation, draft_model) {
                push("--draft-model", path.display().to_string());
            }
        }
        for (name, value) in self.numbers() {
            if let Some(value) = value {
                push(&format!("--{name}"), value.to_string());
            }
        }
        args
    }

    /// The numeric settings by their spec names (which are also the launcher's flags).
    fn numbers(&self) -> [(&'static str, Option<usize>); 5] {
        [
            ("batch", self.batch.map(|n| n as usize)),
            ("ubatch", self.ubatch.map(|n| n as usize)),
            ("cache-reuse", self.cache_reuse.map(|n| n as usize)),
            ("threads-batch", self.threads_batch),
            ("slots", self.slots.map(|n| n as usize)),
        ]
    }
}

impl fmt::Display for Serving {
    /// The spec it parses from; `llama.cpp` for the defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = self.speculation {
            parts.push(format!("{}:{}", s.name(), s.draft_max()));
        }
        for (name, value) in self.numbers() {
            if let Some(value) = value {
                parts.push(format!("{name}:{value}"));
            }
        }
        if parts.is_empty() {
            f.write_str("llama.cpp")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

/// The spec's grammar, for `--help` and errors.
pub const SPEC_HELP: &str = "parts joined by '+': llama.cpp (its defaults), ngram-simple[:N], ngram-map-k[:N], \
    ngram-mod[:N], draft[:N] (speculation, N: longest draft, default 8; draft uses the 0.5B), batch:N, ubatch:N, \
    cache-reuse:N, threads-batch:N, slots:N";

impl FromStr for Serving {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let mut serving = Serving::LLAMA_CPP;
        for part in spec.split('+').map(str::trim) {
            let (name, value) = match part.split_once(':') {
                Some((name, value)) => (name, Some(value)),
                None => (part, None),
            };
            let number = |what: &str| -> Result<u32, String> {
                let value = value.ok_or_else(|| format!("`{part}` needs a number: {what}:N"))?;
                match value.parse::<u32>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("`{part}`: {value:?} is not a whole number above 0")),
                }
            };
            let draft_max = || if value.is_some() { number(name) } else { Ok(Speculation::DEFAULT_DRAFT_MAX) };
            let speculation = match name {
                "llama.cpp" | "default" if value.is_none() => continue,
                "ngram-simple" => Some(Speculation::NgramSimple { draft_max: draft_max()? }),
                "ngram-map-k" => Some(Speculation::NgramMapK { draft_max: draft_max()? }),
                "ngram-mod" => Some(Speculation::NgramMod { draft_max: draft_max()? }),
                "draft" => Some(Speculation::Draft { draft_max: draft_max()? }),
                "batch" => {
                    serving.batch = Some(number(name)?);
                    None
                }
                "ubatch" => {
                    serving.ubatch = Some(number(name)?);
                    None
                }
                "cache-reuse" => {
                    serving.cache_reuse = Some(number(name)?);
                    None
                }
                "threads-batch" => {
                    serving.threads_batch = Some(number(name)? as usize);
                    None
                }
                "slots" => {
                    serving.slots = Some(number(name)?);
                    None
                }
                _ => return Err(format!("`{part}` is not a serving setting ({SPEC_HELP})")),
            };
            if let Some(speculation) = speculation {
                if serving.speculation.replace(speculation).is_some() {
                    return Err(format!("`{spec}` names two kinds of speculation; give one"));
                }
            }
        }
        Ok(serving)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_their_display() {
        for spec in ["llama.cpp", "ngram-simple:8", "draft:4+batch:256", "ngram-mod:16+cache-reuse:256+slots:2"] {
            let serving: Serving = spec.parse().unwrap();
            assert_eq!(serving.to_string(), spec);
            assert_eq!(serving.to_string().parse::<Serving>().unwrap(), serving);
        }
        assert_eq!(
            "ngram-simple".parse::<Serving>().unwrap().speculation,
            Some(Speculation::NgramSimple { draft_max: 8 })
        );
        assert_eq!("default".parse::<Serving>().unwrap(), Serving::LLAMA_CPP);
    }

    #[test]
    fn bad_specs_say_which_part() {
        let err = "ngram-simple:8+batch".parse::<Serving>().unwrap_err();
        assert!(err.contains("`batch` needs a number"), "{err}");
        let err = "batch:0".parse::<Serving>().unwrap_err();
        assert!(err.contains("not a whole number above 0"), "{err}");
        let err = "turbo".parse::<Serving>().unwrap_err();
        assert!(err.contains("`turbo` is not a serving setting"), "{err}");
        let err = "draft+ngram-mod".parse::<Serving>().unwrap_err();
        assert!(err.contains("two kinds of speculation"), "{err}");
    }

    #[test]
    fn launcher_args_name_only_what_is_set() {
        assert!(Serving::LLAMA_CPP.launcher_args(None).is_empty());
        let serving: Serving = "draft:4+threads-batch:2".parse().unwrap();
        let args = serving.launcher_args(Some(std::path::Path::new("/w/small.gguf")));
        assert_eq!(
            args,
            ["--spec", "draft", "--draft-max", "4", "--draft-model", "/w/small.gguf", "--threads-batch", "2"]
        );
    }
}
