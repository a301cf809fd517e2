//! `jwt-auth`: validates an HS256 JSON Web Token from the `authorization: Bearer …` header —
//! signature, expiry (`exp`) and audience (`aud`) — and forwards its subject and scope as
//! request headers. Anything else gets a 401 local response.
//!
//! Configuration (JSON):
//! ```json
//! { "secret": "…", "audience": "api.example.com",
//!   "subject_header": "x-jwt-sub", "scope_header": "x-jwt-scope" }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;
use sha2::Sha256;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(JwtRoot { config: None }) });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    secret: String,
    audience: String,
    #[serde(default = "default_subject_header")]
    subject_header: String,
    #[serde(default = "default_scope_header")]
    scope_header: String,
}

fn default_subject_header() -> String {
    "x-jwt-sub".to_owned()
}

fn default_scope_header() -> String {
    "x-jwt-scope".to_owned()
}

/// The claims this filter reads.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    aud: String,
    #[serde(default)]
    scope: String,
}

struct JwtRoot {
    config: Option<Rc<Config>>,
}

impl Context for JwtRoot {}

impl RootContext for JwtRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(err) => {
                log::error!("jwt-auth: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let config = Rc::clone(self.config.as_ref()?);
        Some(Box::new(JwtStream { config }))
    }
}

struct JwtStream {
    config: Rc<Config>,
}

/// Why a token was refused (sent in `www-authenticate`).
fn validate(token: &str, config: &Config, now: u64) -> Result<Claims, &'static str> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed token");
    };
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| "malformed header")?,
    )
    .map_err(|_| "malformed header")?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err("unsupported algorithm");
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| "malformed signature")?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    let mut mac =
        Hmac::<Sha256>::new_from_slice(config.secret.as_bytes()).map_err(|_| "bad key")?;
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| "invalid signature")?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| "malformed claims")?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| "malformed claims")?;
    if claims.exp <= now {
        return Err("token expired");
    }
    if claims.aud != config.audience {
        return Err("wrong audience");
    }
    Ok(claims)
}

impl Context for JwtStream {}

impl HttpContext for JwtStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let now = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = self
            .get_http_request_header("authorization")
            .unwrap_or_default();
        let verdict = match header.strip_prefix("Bearer ") {
            Some(token) => validate(token.trim(), &self.config, now),
            None => Err("missing bearer token"),
        };
        match verdict {
            Ok(claims) => {
                self.set_http_request_header(&self.config.subject_header, Some(&claims.sub));
                self.set_http_request_header(&self.config.scope_header, Some(&claims.scope));
                Action::Continue
            }
            Err(reason) => {
                let challenge =
                    format!("Bearer error=\"invalid_token\", error_description=\"{reason}\"");
                self.send_http_response(
                    401,
                    vec![("www-authenticate", &challenge)],
                    Some(b"unauthorized\n"),
                );
                Action::Pause
            }
        }
    }
}
