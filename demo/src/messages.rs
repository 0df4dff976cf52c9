//! The demo speaks French: its view of the sentence per error code that both relying-party
//! services share (`cpx_web::messages`, where the table and its tests live).

use cpx_web::messages::{self, Language};

/// Shown for a server-side code missing from the table.
pub const SERVER_FALLBACK: &str = messages::SERVER_FALLBACK.fr;

pub fn server_message(code: &str) -> &'static str {
    messages::server_message(code).text(Language::French)
}

/// The page script's table in French (the pages write it with askama's `json` filter).
pub fn browser_messages() -> serde_json::Map<String, serde_json::Value> {
    messages::page_table(Language::French)
}
