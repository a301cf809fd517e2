//! `waf`: a small web-application firewall. Regex rules run over the request path, the query
//! string and the header values; the first rule that matches answers 403 and names itself.
//! Clean requests go on with `x-waf: clean`.
//!
//! Configuration (JSON): rules with a name, a regex and what it inspects (`path`, `query`,
//! `headers`):
//! ```json
//! { "rules": [ { "name": "sqli", "pattern": "(?i)'(\\s|%20)*(or|and)(\\s|%20)", "target": "query" } ] }
//! ```

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use regex::Regex;
use serde::Deserialize;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(WafRoot { rules: None }) });
}}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Target {
    Path,
    Query,
    Headers,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    name: String,
    pattern: String,
    target: Target,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    rules: Vec<RuleConfig>,
}

struct Rule {
    name: String,
    regex: Regex,
    target: Target,
}

struct WafRoot {
    rules: Option<Rc<Vec<Rule>>>,
}

impl Context for WafRoot {}

fn compile(config: Config) -> Result<Vec<Rule>, String> {
    config
        .rules
        .into_iter()
        .map(|r| match Regex::new(&r.pattern) {
            Ok(regex) => Ok(Rule {
                name: r.name,
                regex,
                target: r.target,
            }),
            Err(e) => Err(format!("rule {}: {e}", r.name)),
        })
        .collect()
}

impl RootContext for WafRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let rules = serde_json::from_slice::<Config>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(compile);
        match rules {
            Ok(rules) => {
                self.rules = Some(Rc::new(rules));
                true
            }
            Err(err) => {
                log::error!("waf: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WafStream {
            rules: Rc::clone(self.rules.as_ref()?),
        }))
    }
}

struct WafStream {
    rules: Rc<Vec<Rule>>,
}

impl WafStream {
    /// The name of the first rule the request matches.
    fn first_match(&self) -> Option<&str> {
        let full = self.get_http_request_header(":path").unwrap_or_default();
        let (path, query) = full.split_once('?').unwrap_or((&full, ""));
        let headers = if self.rules.iter().any(|r| r.target == Target::Headers) {
            self.get_http_request_headers()
        } else {
            Vec::new()
        };
        self.rules.iter().find_map(|rule| {
            let hit = match rule.target {
                Target::Path => rule.regex.is_match(path),
                Target::Query => rule.regex.is_match(query),
                Target::Headers => headers
                    .iter()
                    .any(|(name, value)| !name.starts_with(':') && rule.regex.is_match(value)),
            };
            hit.then_some(rule.name.as_str())
        })
    }
}

impl Context for WafStream {}

impl HttpContext for WafStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        match self.first_match().map(str::to_owned) {
            None => {
                self.set_http_request_header("x-waf", Some("clean"));
                Action::Continue
            }
            Some(rule) => {
                let body = format!("blocked by rule {rule}\n");
                self.send_http_response(403, vec![("x-waf-rule", &rule)], Some(body.as_bytes()));
                Action::Pause
            }
        }
    }
}
